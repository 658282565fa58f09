//! `tern dig -h`: the usage and every option `tern dig` understands, laid
//! out the way dig's help is, so a dig user finds things where they expect.

pub const HELP: &str = r#"Usage:  tern dig [@global-server] [domain] [q-type] [q-class] {q-opt}
            {global-d-opt} host [@local-server] {local-d-opt}
            [ host [@local-server] {local-d-opt} [...]]
Where:  domain	  is in the Domain Name System
        q-class  is one of (in,hs,ch,...) [default: in]
        q-type   is one of (a,any,mx,ns,soa,hinfo,axfr,txt,...) [default:a]
        q-opt    is one of:
                 -4                  (use IPv4 query transport only)
                 -6                  (use IPv6 query transport only)
                 -b address          (bind to source address)
                 -c class            (specify query class)
                 -f filename         (batch mode)
                 -p port             (specify port number)
                 -q name             (specify query name)
                 -r                  (do not read ~/.digrc)
                 -t type             (specify query type)
                 -u                  (display times in usec instead of msec)
                 -x dot-notation     (shortcut for reverse lookups)
                 --hints file        (root hints for +trace, like +hints=)
        d-opt    is of the form +keyword[=value], where keyword is:
                 +[no]aaflag         (Set AA flag in query (+[no]aaonly))
                 +[no]additional     (Control display of additional section)
                 +[no]adflag         (Set AD flag in query (default on))
                 +[no]all            (Set or clear all display flags)
                 +anchor=file        (Trust anchors (DS/DNSKEY records) that
                                      +trace +engine validates from; needed
                                      with custom hints)
                 +[no]answer         (Control display of answer section)
                 +[no]authority      (Control display of authority section)
                 +bufsize=###        (Set EDNS0 Max UDP packet size) [1232]
                 +[no]cdflag         (Set checking disabled flag in query)
                 +[no]class          (Control display of class in records)
                 +[no]cmd            (Control display of command line -
                                      global option)
                 +[no]comments       (Control display of packet header
                                      and section name comments)
                 +[no]cookie         (Add a COOKIE option to the request)
                 +[no]dnssec         (Request DNSSEC records)
                 +[no]edns[=###]     (Set EDNS version) [0]
                 +ednsopt=###[:value] (Send specified EDNS option)
                 +noednsopt          (Clear list of +ednsopt options)
                 +[no]engine         (Trace with tern's own resolver engine,
                                      DNSSEC validation steps included;
                                      implies +trace)
                 +[no]expire         (Request time to expire)
                 +[no]header-only    (Send query without a question section)
                 +hints=file         (Root hints for +trace)
                 +[no]https[=###]    (DNS-over-HTTPS mode) [/dns-query]
                 +[no]https-get[=###] (DNS-over-HTTPS mode, GET)
                 +[no]https-post[=###] (DNS-over-HTTPS mode, POST)
                 +[no]identify       (ID responders in short answers)
                 +[no]ignore         (Don't revert to TCP for TC responses.)
                 +[no]json           (Print each message as RFC 8427 JSON)
                 +[no]keepalive      (Request EDNS TCP keepalive)
                 +[no]multiline      (Print records in an expanded format)
                 +[no]nsid           (Request Name Server ID)
                 +opcode=###         (Set the opcode of the request)
                 +padding=###        (Set padding block size [0])
                 +qid=###            (Specify the query ID to use)
                 +[no]qr             (Print question before sending)
                 +[no]question       (Control display of question section)
                 +[no]raflag         (Set RA flag in query)
                 +[no]rdflag         (Recursive mode (+[no]recurse))
                 +[no]recurse        (Recursive mode (+[no]rdflag))
                 +retry=###          (Set number of UDP retries) [2]
                 +[no]short          (Display nothing except short
                                      form of answers - global option)
                 +[no]stats          (Control display of statistics)
                 +subnet=addr[/len]  (Set edns-client-subnet option)
                 +[no]tcflag         (Set TC flag in query)
                 +[no]tcp            (TCP mode (+[no]vc))
                 +timeout=###        (Set query timeout) [5]
                 +[no]tls            (DNS-over-TLS mode)
                 +[no]tls-ca[=file]  (Check the server's certificate, with
                                      file's CAs or the system's)
                 +[no]tls-hostname=hostname (Name the certificate must carry)
                 +[no]trace          (Trace delegation down from root [implies
                                      +dnssec])
                 +tries=###          (Set number of UDP attempts) [3]
                 +[no]ttlid          (Control display of ttls in records)
                 +[no]ttlunits       (Display TTLs in human-readable units)
                 +[no]unknownformat  (Print RDATA in RFC 3597 "unknown" format)
                 +[no]vc             (TCP mode (+[no]tcp))
                 +[no]yaml           (Print each message as RFC 8427 YAML)
                 +[no]zflag          (Set Z flag in query)
                 (+[no]besteffort, +[no]defname, +[no]fail, +[no]keepopen
                  and +[no]search are accepted and change nothing)
        global d-opts and servers (before host name) affect all queries.
        local d-opts and servers (after host name) affect only that lookup.
        -h                           (print help and exit)
        -v                           (print version and exit)"#;
