//! A local certificate authority and a server certificate signed by it
//! (rcgen), so that DNS over TLS and HTTPS can be tried offline: `tern
//! lab` writes them to its run directory and its resolver presents the
//! server certificate; clients trust the CA file (`tern dig
//! +tls-ca=FILE`, `kdig +tls-ca=FILE`). Tests make their own the same way.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The files written: the CA's certificate, and the server's
/// certificate and private key (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabCerts {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The name the lab resolver's certificate carries besides its address.
pub const LAB_SERVER_NAME: &str = "resolver.lab";

impl LabCerts {
    /// The file names under `dir`.
    pub fn paths(dir: &Path) -> LabCerts {
        LabCerts {
            ca: dir.join("tls-ca.pem"),
            cert: dir.join("tls-cert.pem"),
            key: dir.join("tls-key.pem"),
        }
    }
}

/// Makes a fresh CA and a server certificate for `names` (host names or
/// IP addresses, which become IP address entries), writing them under
/// `dir`. The CA's key is not kept: nothing else can be signed with it.
pub fn generate(dir: &Path, names: &[String]) -> Result<LabCerts, String> {
    let err = |e: rcgen::Error| format!("making the lab certificates: {e}");
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "tern lab certificate authority");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(err)?;
    let mut leaf = CertificateParams::new(names.to_vec()).map_err(err)?;
    leaf.distinguished_name.push(
        DnType::CommonName,
        names.first().map_or(LAB_SERVER_NAME, |n| n.as_str()),
    );
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = leaf.signed_by(&key, &issuer).map_err(err)?;

    let out = LabCerts::paths(dir);
    let write = |p: &Path, text: String| {
        std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display()))
    };
    write(&out.ca, ca_cert.pem())?;
    write(&out.cert, cert.pem())?;
    write(&out.key, key.serialize_pem())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&out.key, std::fs::Permissions::from_mode(0o600));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_server_certificate_loads_with_its_key() {
        let dir = std::env::temp_dir().join(format!("tern-lab-certs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let names = vec![LAB_SERVER_NAME.to_string(), "127.0.0.1".to_string()];
        let c = generate(&dir, &names).unwrap();
        assert!(crate::server::tls::load_certified_key(&c.cert, &c.key).is_ok());
        // The CA's certificate is not the server's, and the key is the
        // server's, not the CA's.
        let ca = std::fs::read_to_string(&c.ca).unwrap();
        assert_ne!(ca, std::fs::read_to_string(&c.cert).unwrap());
        assert!(crate::server::tls::load_certified_key(&c.ca, &c.key).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
