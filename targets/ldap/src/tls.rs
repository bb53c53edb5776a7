//! How the directory server's certificate is checked, and what to say when it is refused.
//!
//! Schools' domain controllers often carry certificates from an older PKI: signed with SHA-1
//! (AD CS templates from the Windows Server 2008 era), or a self-signed certificate that the
//! administrator exports and hands over as "the CA". picday's TLS library (rustls with webpki)
//! refuses both, rightly: SHA-1 signatures are forgeable (briansmith/webpki#110 keeps them out),
//! and a certificate that is its own anchor is either marked as a CA, which may not be used as
//! a server certificate, or is not one, which may not sign (rustls/webpki#180). A bare
//! "invalid peer certificate: UnsupportedSignatureAlgorithm" leaves the administrator with
//! `tls_verify = false`, which gives the bind password to anyone on the network path.
//!
//! So the refusal is diagnosed here ([`Verifier`] with [`Check::Standard`] looks at the
//! presented certificates when the standard verifier refuses them) and said exactly, with the
//! certificate's SHA-256 fingerprint; and `tls_fingerprint = "sha256:..."` pins that one
//! certificate ([`Check::Pinned`]): the server must present exactly it, and no other chain
//! check is made (no CA, no name, no dates), which is what pinning means and why it stays safe
//! with an old PKI.

use std::sync::Arc;

use picday_core::{Error, Result};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

/// A certificate's SHA-256 fingerprint (of its DER encoding, as `certutil` and `openssl x509
/// -fingerprint -sha256` show it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn of(der: &[u8]) -> Fingerprint {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Fingerprint(out)
    }

    /// Parses `sha256:` and 64 hex digits; colons and spaces between them are allowed (as
    /// OpenSSL and `certutil` print them).
    pub fn parse(text: &str) -> Result<Fingerprint> {
        let bad = |why: &str| {
            Error::config(format!(
                "tls_fingerprint `{text}` {why}: write \"sha256:\" and the 64 hex digits of the \
                 certificate's SHA-256 fingerprint (`certutil -hashfile dc.cer SHA256`, or \
                 `openssl x509 -in dc.pem -noout -fingerprint -sha256`)"
            ))
        };
        let t = text.trim();
        let Some(rest) = t
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("sha256:"))
            .map(|_| &t[7..])
        else {
            return Err(bad("does not start with \"sha256:\""));
        };
        let hex: String = rest
            .chars()
            .filter(|c| !matches!(c, ':' | ' ' | '-'))
            .collect();
        if hex.len() == 40 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad(
                "is 40 hex digits, a SHA-1 thumbprint (what Windows shows as \"Thumbprint\")",
            ));
        }
        let mut out = [0u8; 32];
        if hex.len() != 64 {
            return Err(bad("is not 64 hex digits"));
        }
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|_| bad("holds a character that is not a hex digit"))?;
        }
        Ok(Fingerprint(out))
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sha256:")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// Why picday's verifier refused the server's certificate, when it knows better than the TLS
/// library's words.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// The server's certificate, or a CA certificate it sent, is signed with SHA-1.
    Sha1 { fingerprint: Fingerprint },
    /// The server's certificate is self-signed (its issuer is itself) and was refused.
    SelfSigned {
        fingerprint: Fingerprint,
        reason: String,
    },
    /// `tls_fingerprint` is set and the server presented another certificate.
    PinMismatch {
        found: Fingerprint,
        pinned: Fingerprint,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Sha1 { fingerprint } => write!(
                f,
                "the domain controller's certificate (or a CA certificate it sent) is signed \
                 with SHA-1, which picday's TLS library refuses as forgeable. Have the \
                 certificate reissued with SHA-256 (the lasting fix), or pin this certificate \
                 with `tls_fingerprint = \"{fingerprint}\"` after checking that fingerprint \
                 against the certificate on the DC (certlm.msc, or `certutil -hashfile dc.cer \
                 SHA256`); do not set `tls_verify = false`, which trusts anyone on the network"
            ),
            Refusal::SelfSigned {
                fingerprint,
                reason,
            } => write!(
                f,
                "the domain controller presents a self-signed certificate, which picday's TLS \
                 library does not accept as its own CA ({reason}). Pin it with \
                 `tls_fingerprint = \"{fingerprint}\"` (instead of `ca_cert`) after checking \
                 that fingerprint against the certificate on the DC (certlm.msc, or `certutil \
                 -hashfile dc.cer SHA256`), or give the DC a certificate from the domain's CA \
                 and set `ca_cert` to that CA; do not set `tls_verify = false`"
            ),
            Refusal::PinMismatch { found, pinned } => write!(
                f,
                "the server presented the certificate {found}, not the pinned {pinned}: if the \
                 domain controller's certificate was renewed, check the new one and update \
                 `tls_fingerprint`; otherwise something else answers at this address"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

fn refused(r: Refusal) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(r))))
}

/// picday's [`Refusal`] inside a TLS error, if it is one.
pub fn refusal(e: &rustls::Error) -> Option<&Refusal> {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<Refusal>()
        }
        _ => None,
    }
}

/// The DER of the OIDs of SHA-1 signatures: sha1WithRSAEncryption (1.2.840.113549.1.1.5),
/// ecdsa-with-SHA1 (1.2.840.10045.4.1), dsa-with-sha1 (1.2.840.10040.4.3).
const SHA1_SIGNATURES: [&[u8]; 3] = [
    &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05],
    &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x01],
    &[0x2A, 0x86, 0x48, 0xCE, 0x38, 0x04, 0x03],
];

fn is_sha1(algorithm: &[u8]) -> bool {
    SHA1_SIGNATURES
        .iter()
        .any(|oid| algorithm.windows(oid.len()).any(|w| w == *oid))
}

/// The TLS library's refusal, said as a [`Refusal`] when the certificates show why.
fn diagnose(
    e: rustls::Error,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> rustls::Error {
    let rustls::Error::InvalidCertificate(cert_error) = &e else {
        return e;
    };
    let fingerprint = Fingerprint::of(end_entity);
    let sha1 = match cert_error {
        CertificateError::UnsupportedSignatureAlgorithmContext {
            signature_algorithm_id,
            ..
        } => is_sha1(signature_algorithm_id),
        #[allow(deprecated)]
        CertificateError::UnsupportedSignatureAlgorithm => std::iter::once(end_entity)
            .chain(intermediates)
            .filter_map(|c| signature_algorithm(c))
            .any(is_sha1),
        _ => false,
    };
    if sha1 {
        return refused(Refusal::Sha1 { fingerprint });
    }
    if is_self_signed(end_entity) {
        return refused(Refusal::SelfSigned {
            fingerprint,
            reason: cert_error.to_string(),
        });
    }
    e
}

/// How the server's certificate is checked.
#[derive(Debug)]
pub enum Check {
    /// The standard verifier (a CA in `ca_cert` or the system's store); its refusals of an old
    /// PKI are said as what they are ([`Refusal`]).
    Standard(Arc<WebPkiServerVerifier>),
    /// `tls_fingerprint`: the server must present exactly this certificate; nothing else about
    /// it is checked.
    Pinned(Fingerprint),
    /// `tls_verify = false`: any certificate (the session is encrypted, but the server is not
    /// authenticated).
    Any,
}

/// picday's certificate verifier. Whatever the [`Check`], handshake signatures are verified
/// with the presented certificate's key, so the server must hold its private key.
#[derive(Debug)]
pub struct Verifier {
    pub check: Check,
    pub provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match &self.check {
            Check::Standard(standard) => standard
                .verify_server_cert(end_entity, intermediates, name, ocsp, now)
                .map_err(|e| diagnose(e, end_entity, intermediates)),
            Check::Pinned(pin) => {
                let found = Fingerprint::of(end_entity);
                if found == *pin {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(refused(Refusal::PinMismatch {
                        found,
                        pinned: *pin,
                    }))
                }
            }
            Check::Any => Ok(ServerCertVerified::assertion()),
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// One DER element: its tag, its contents and what follows it. `None` for anything malformed
/// (a certificate picday cannot read is simply not diagnosed).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The parts of a certificate picday looks at: the outer signature algorithm, the issuer and
/// the subject (RFC 5280 section 4.1).
struct Parts<'a> {
    signature_algorithm: &'a [u8],
    issuer: &'a [u8],
    subject: &'a [u8],
}

fn parts(der: &[u8]) -> Option<Parts<'_>> {
    const SEQUENCE: u8 = 0x30;
    let (SEQUENCE, cert, _) = element(der)? else {
        return None;
    };
    let (SEQUENCE, tbs, rest) = element(cert)? else {
        return None;
    };
    let (SEQUENCE, signature_algorithm, _) = element(rest)? else {
        return None;
    };
    let mut fields = tbs;
    // version [0] EXPLICIT, optional
    if fields.first() == Some(&0xA0) {
        fields = element(fields)?.2;
    }
    let (_, _serial, fields) = element(fields)?;
    let (_, _signature, fields) = element(fields)?;
    let (_, issuer, fields) = element(fields)?;
    let (_, _validity, fields) = element(fields)?;
    let (_, subject, _) = element(fields)?;
    Some(Parts {
        signature_algorithm,
        issuer,
        subject,
    })
}

fn signature_algorithm<'a>(cert: &'a CertificateDer<'_>) -> Option<&'a [u8]> {
    parts(cert.as_ref()).map(|p| p.signature_algorithm)
}

fn is_self_signed(cert: &CertificateDer<'_>) -> bool {
    parts(cert.as_ref()).is_some_and(|p| p.issuer == p.subject)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_the_forms_tools_print() {
        let hex = "3F9A00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDD";
        let colons: String = hex
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        let spaces = colons.replace(':', " ");
        let want = Fingerprint::parse(&format!("sha256:{hex}")).unwrap();
        for text in [
            format!("SHA256:{}", hex.to_lowercase()),
            format!("sha256:{colons}"),
            format!(" sha256:{spaces} "),
        ] {
            assert_eq!(Fingerprint::parse(&text).unwrap(), want, "{text}");
        }
        assert_eq!(want.to_string(), format!("sha256:{}", hex.to_lowercase()));
        for (bad, why) in [
            (hex.to_string(), "sha256:"),
            (format!("sha256:{}", &hex[..40]), "SHA-1 thumbprint"),
            (format!("sha256:{}", &hex[..62]), "64 hex digits"),
            (format!("sha256:{}zz", &hex[..62]), "not a hex digit"),
            ("sha256:é".to_string(), "64 hex digits"),
        ] {
            let e = Fingerprint::parse(&bad).unwrap_err();
            assert!(e.message().contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn sha1_signature_oids_are_recognised() {
        // AlgorithmIdentifier contents: OID sha1WithRSAEncryption, NULL.
        let sha1_rsa = [
            0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05, 0x05, 0x00,
        ];
        assert!(is_sha1(&sha1_rsa));
        // sha256WithRSAEncryption (1.2.840.113549.1.1.11) is not.
        let sha256_rsa = [
            0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B, 0x05, 0x00,
        ];
        assert!(!is_sha1(&sha256_rsa));
    }

    #[test]
    fn malformed_certificates_are_not_diagnosed_and_do_not_panic() {
        for bytes in [
            &[][..],
            &[0x30],
            &[0x30, 0x85, 1, 2, 3, 4, 5],
            &[0x30, 0x05, 0x30],
        ] {
            let cert = CertificateDer::from(bytes.to_vec());
            assert!(!is_self_signed(&cert));
            assert!(signature_algorithm(&cert).is_none());
        }
    }
}
