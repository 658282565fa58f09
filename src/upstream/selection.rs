//! Server selection among a zone's replicas: smoothed RTT per address,
//! retransmission timeout with exponential backoff, hold-down of servers that
//! keep timing out (ideas from RFC 6298 and Unbound's `util/rtt.c`).
