//! DNSSEC validation for `+trace +engine` (RFC 4035 §5): which trust
//! anchors the engine validates from, and the verdict printed at the end of
//! the trace. The steps themselves (DS ↔ DNSKEY, RRSIGs, NSEC proofs) are
//! the engine's own `dnssec:` trace notes.
//!
//! The anchors follow the hints: with the built-in root hints the real
//! root's built-in KSKs; with `+anchor=FILE` that file (with custom hints
//! only that file, since a lab root is not signed by the real root's keys);
//! with custom hints and no anchor nothing is validated.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::args::Flags;
use super::options::ede_name;
use crate::config::DnssecConfig;
use crate::dnssec::Security;
use crate::engine::{Resolution, TraceEvent};

/// How the engine trace validates, decided from the options alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    /// Validate from the anchors in `file` and, with `builtin_root`, the
    /// built-in root KSKs unless the file names the root.
    On {
        file: Option<PathBuf>,
        builtin_root: bool,
    },
    /// Resolve without validating, for this reason.
    Off(&'static str),
}

impl Validation {
    /// The `[dnssec]` configuration the engine runs with.
    pub fn config(&self) -> DnssecConfig {
        match self {
            Validation::On { file, builtin_root } => DnssecConfig {
                trust_anchor_files: file.iter().cloned().collect(),
                builtin_root_anchors: *builtin_root,
                ..DnssecConfig::default()
            },
            Validation::Off(_) => DnssecConfig::off(),
        }
    }
}

/// The validation `+trace +engine` does for these options.
pub fn choose(flags: &Flags) -> Validation {
    if flags.cd {
        return Validation::Off("+cdflag");
    }
    match (&flags.anchor, &flags.hints) {
        (Some(file), hints) => Validation::On {
            file: Some(PathBuf::from(file)),
            // A root named in the file replaces the built-in one anyway;
            // with custom hints the real root's keys can only make the
            // custom root bogus, so only the file counts.
            builtin_root: hints.is_none(),
        },
        (None, None) => Validation::On {
            file: None,
            builtin_root: true,
        },
        (None, Some(_)) => Validation::Off("custom root hints and no +anchor=FILE"),
    }
}

/// The verdict in words: `secure`, `insecure (why)`, `bogus (EDE n
/// Name): why`, or why nothing was validated.
pub fn verdict(res: &Resolution, validation: &Validation) -> String {
    match (validation, &res.security) {
        (Validation::Off(why), _) => format!("not validated ({why})"),
        (_, Security::Secure) => "secure".into(),
        (_, Security::Insecure) => match insecure_reason(res) {
            Some(why) => format!("insecure ({why})"),
            None => "insecure".into(),
        },
        (_, Security::Unsupported(b)) => {
            let code = b.kind.ede_code();
            format!(
                "insecure (EDE {code} {}): {}",
                ede_name(code).unwrap_or("Other"),
                b.text
            )
        }
        (_, Security::Bogus(b)) => {
            let code = b.kind.ede_code();
            format!(
                "bogus (EDE {code} {}): {}",
                ede_name(code).unwrap_or("Other"),
                b.text
            )
        }
        // Validation was on but the resolution failed before it ran.
        (_, Security::Unchecked) => "not validated (no answer to validate)".into(),
    }
}

/// The last `dnssec:` note that says why something is insecure.
fn insecure_reason(res: &Resolution) -> Option<&str> {
    res.trace.iter().rev().find_map(|ev| match ev {
        TraceEvent::Note(n) if n.contains("insecure") => n.strip_prefix("dnssec: "),
        _ => None,
    })
}

/// The verdict as a JSON object for the trace's `result` event.
pub fn verdict_json(res: &Resolution, validation: &Validation) -> Value {
    let status = match (validation, &res.security) {
        (Validation::Off(_), _) | (_, Security::Unchecked) => "unchecked",
        (_, Security::Secure) => "secure",
        (_, Security::Insecure | Security::Unsupported(_)) => "insecure",
        (_, Security::Bogus(_)) => "bogus",
    };
    let ede = match (validation, &res.security) {
        (Validation::On { .. }, Security::Bogus(b) | Security::Unsupported(b)) => {
            Some(b.kind.ede_code())
        }
        _ => None,
    };
    json!({
        "status": status,
        "why": verdict(res, validation),
        "EDE": ede,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::{Bogus, BogusKind};
    use crate::engine::Failure;

    fn flags(hints: Option<&str>, anchor: Option<&str>, cd: bool) -> Flags {
        Flags {
            hints: hints.map(str::to_string),
            anchor: anchor.map(str::to_string),
            cd,
            ..Flags::default()
        }
    }

    #[test]
    fn anchors_follow_the_hints() {
        let on = |file: Option<&str>, builtin_root| Validation::On {
            file: file.map(PathBuf::from),
            builtin_root,
        };
        let cases = [
            (None, None, false, on(None, true)),
            (None, Some("a.anchor"), false, on(Some("a.anchor"), true)),
            (
                Some("h"),
                Some("a.anchor"),
                false,
                on(Some("a.anchor"), false),
            ),
            (
                Some("h"),
                None,
                false,
                Validation::Off("custom root hints and no +anchor=FILE"),
            ),
            (None, None, true, Validation::Off("+cdflag")),
            (
                Some("h"),
                Some("a.anchor"),
                true,
                Validation::Off("+cdflag"),
            ),
        ];
        for (hints, anchor, cd, want) in cases {
            assert_eq!(
                choose(&flags(hints, anchor, cd)),
                want,
                "{hints:?} {anchor:?} cd={cd}"
            );
        }
    }

    #[test]
    fn verdicts_in_words() {
        let on = choose(&Flags::default());
        let cfg = on.config();
        assert!(cfg.validate && cfg.builtin_root_anchors);
        assert!(!Validation::Off("x").config().validate);
        let mut res = Resolution::failed(Failure::NoReachableAuthority, Vec::new());
        assert_eq!(verdict(&res, &on), "not validated (no answer to validate)");
        assert_eq!(
            verdict(&res, &Validation::Off("+cdflag")),
            "not validated (+cdflag)"
        );
        res.security = Security::Secure;
        assert_eq!(verdict(&res, &on), "secure");
        res.security = Security::Insecure;
        assert_eq!(verdict(&res, &on), "insecure");
        res.trace = vec![
            TraceEvent::Note("dnssec: keys of net.: secure".into()),
            TraceEvent::Note("dnssec: cdn.net. has no DS: insecure".into()),
        ];
        assert_eq!(
            verdict(&res, &on),
            "insecure (cdn.net. has no DS: insecure)"
        );
        res.security = Security::Bogus(Bogus::new(BogusKind::RrsigsMissing, "no RRSIG"));
        assert_eq!(
            verdict(&res, &on),
            "bogus (EDE 10 RRSIGs Missing): no RRSIG"
        );
        let j = verdict_json(&res, &on);
        assert_eq!(j["status"], "bogus");
        assert_eq!(j["EDE"], 10);
    }
}
