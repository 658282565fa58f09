//! Trust ranking of cached data, after RFC 2181 §5.4.1: data from the
//! answer section of an authoritative reply outranks authority-section
//! data, which outranks glue and other additional data. A lower-ranked
//! RRset never replaces a live higher-ranked one.

/// Trust in a cached RRset; later variants are more trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rank {
    /// Additional-section data (glue, addresses of NS names).
    Additional,
    /// Authority section of a non-authoritative reply (referral NS sets).
    AuthorityNonAuth,
    /// Answer section of a non-authoritative reply.
    AnswerNonAuth,
    /// Authority section of an authoritative reply (SOA of a negative answer,
    /// apex NS set).
    AuthorityAuth,
    /// Answer section of an authoritative reply.
    AnswerAuth,
}

/// Where the data came from, as RFC 2181 §5.4.1 ranks it (`tern ctl
/// lookup` prints it).
impl std::fmt::Display for Rank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rank::Additional => "additional section",
            Rank::AuthorityNonAuth => "authority section, non-authoritative",
            Rank::AnswerNonAuth => "answer, non-authoritative",
            Rank::AuthorityAuth => "authority section, authoritative",
            Rank::AnswerAuth => "answer, authoritative",
        })
    }
}

impl Rank {
    /// The rank of data from a reply section.
    pub fn of(section: Section, authoritative: bool) -> Self {
        match (section, authoritative) {
            (Section::Answer, true) => Rank::AnswerAuth,
            (Section::Answer, false) => Rank::AnswerNonAuth,
            (Section::Authority, true) => Rank::AuthorityAuth,
            (Section::Authority, false) => Rank::AuthorityNonAuth,
            (Section::Additional, _) => Rank::Additional,
        }
    }
}

/// The sections of a DNS reply that carry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_rfc2181() {
        let cases = [
            (Section::Answer, true, Rank::AnswerAuth),
            (Section::Answer, false, Rank::AnswerNonAuth),
            (Section::Authority, true, Rank::AuthorityAuth),
            (Section::Authority, false, Rank::AuthorityNonAuth),
            (Section::Additional, true, Rank::Additional),
        ];
        for (s, aa, want) in cases {
            assert_eq!(Rank::of(s, aa), want);
        }
        assert!(Rank::AnswerAuth > Rank::AuthorityAuth);
        assert!(Rank::AuthorityNonAuth > Rank::Additional);
    }
}
