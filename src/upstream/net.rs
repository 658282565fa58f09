//! The real transport: UDP from a fresh random source port per query, TCP
//! with RFC 1035 §4.2.2 length framing, a random ID from the OS CSPRNG, and
//! a reply accepted only when its source, ID and question match (RFC 5452
//! §9.1); anything else is dropped and the wait goes on.
