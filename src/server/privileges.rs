//! Dropping root once the sockets are bound (`server.user`,
//! `server.group`): supplementary groups, then group, then user, in that
//! order (after setuid the others are no longer allowed), and a check that
//! root cannot be taken back. The C library applies each change to every
//! thread of the process.

use std::ffi::CString;

/// Whom to become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum PrivError {
    #[error("server.user: no user {0:?}")]
    NoUser(String),
    #[error("server.group: no group {0:?}")]
    NoGroup(String),
    #[error("cannot drop privileges to {user}: {call}: {source}")]
    Call {
        user: String,
        call: &'static str,
        source: std::io::Error,
    },
    #[error("privileges not dropped: still able to become root after switching to {0}")]
    StillRoot(String),
}

/// Buffer for the reentrant passwd/group lookups.
const LOOKUP_BUFFER: usize = 16 * 1024;

/// Looks up the user (and group; None = the user's primary group).
pub fn lookup(user: &str, group: Option<&str>) -> Result<Target, PrivError> {
    let (uid, primary) = user_ids(user).ok_or_else(|| PrivError::NoUser(user.to_string()))?;
    let gid = match group {
        None => primary,
        Some(g) => group_id(g).ok_or_else(|| PrivError::NoGroup(g.to_string()))?,
    };
    Ok(Target {
        user: user.to_string(),
        uid,
        gid,
    })
}

fn user_ids(name: &str) -> Option<(u32, u32)> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; LOOKUP_BUFFER];
    // SAFETY: all-zero is a valid `passwd` (pointers null, ids 0).
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, `buf` for its length;
    // the result points into `pwd`/`buf`, which outlive its use here.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    (rc == 0 && !found.is_null()).then_some((pwd.pw_uid, pwd.pw_gid))
}

fn group_id(name: &str) -> Option<u32> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; LOOKUP_BUFFER];
    // SAFETY: all-zero is a valid `group`.
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as in `user_ids`.
    let rc = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    (rc == 0 && !found.is_null()).then_some(grp.gr_gid)
}

/// Whether the process runs as root (effective user 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Becomes `target`: an error if any step fails or root can be regained.
pub fn drop_to(target: &Target) -> Result<(), PrivError> {
    let fail = |call: &'static str| PrivError::Call {
        user: target.user.clone(),
        call,
        source: std::io::Error::last_os_error(),
    };
    let groups = [target.gid as libc::gid_t];
    // SAFETY: `groups` is valid for one element.
    if unsafe { libc::setgroups(1, groups.as_ptr()) } != 0 {
        return Err(fail("setgroups"));
    }
    // SAFETY: plain system calls on integers.
    if unsafe { libc::setgid(target.gid) } != 0 {
        return Err(fail("setgid"));
    }
    // SAFETY: as above.
    if unsafe { libc::setuid(target.uid) } != 0 {
        return Err(fail("setuid"));
    }
    // SAFETY: as above; a successful setuid(0) here means the drop failed.
    let regained = target.uid != 0 && unsafe { libc::setuid(0) } == 0;
    if regained {
        return Err(PrivError::StillRoot(target.user.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn root_is_found_and_unknown_names_are_errors() {
        let root = lookup("root", None).unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(matches!(
            lookup("no-such-user-tern", None),
            Err(PrivError::NoUser(_))
        ));
        assert!(matches!(
            lookup("root", Some("no-such-group-tern")),
            Err(PrivError::NoGroup(_))
        ));
        assert!(matches!(lookup("a\0b", None), Err(PrivError::NoUser(_))));
    }
}
