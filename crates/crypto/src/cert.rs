//! Member certificates: an Ed25519 signature over (team, account id, e-mail, X25519 public key,
//! Ed25519 public key, admin flag, issuer), chaining to the team root key that every client
//! pinned when it joined.
//!
//! The chain has at most two links: the team root signs *admin* certificates (the team creator
//! holds the root signing key, sealed in their vault); an admin signs member certificates with
//! their own account signing key. A client checks a member's chain up to the pinned root before
//! it seals any group key to that member, so a server that substitutes a public key, or drops
//! or forges a signature, cannot make a client share with the wrong key.
//!
//! Encoding (big endian): `version (1) || team (16) || account (16) || exchange (32) ||
//! signing (32) || admin (1) || issuer (32) || email length (2) || email || signature (64)`.
//! A chain is `count (1)` then each certificate with a 2-byte length, leaf first.
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::envelope::associated_data;

const VERSION: u8 = 1;
const MAX_EMAIL: usize = 254;

/// Why a certificate (chain) was refused. The messages are for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// No certificate at all.
    #[error("no certificate (an admin has not certified this member's keys yet)")]
    Missing,
    /// Bytes that are not a certificate.
    #[error("the certificate is malformed ({0})")]
    Malformed(&'static str),
    /// A signature does not verify: the keys or e-mail were changed, or the signature forged
    /// or dropped.
    #[error("the {0} signature does not verify (the keys were changed or the signature was removed or forged)")]
    BadSignature(&'static str),
    /// The chain does not end at the pinned team root key.
    #[error("the certificate does not chain to the pinned team root key")]
    NotChainedToRoot,
    /// The issuer is not certified as an admin.
    #[error("the certificate was signed by a key that is not certified as a team admin")]
    IssuerNotAdmin,
    /// Issued for another team.
    #[error("the certificate was issued for another team")]
    WrongTeam,
    /// The certificate names other keys or another account than the ones presented.
    #[error(
        "the certificate certifies other keys or another account than the ones presented ({0})"
    )]
    Mismatch(&'static str),
}

/// What a certificate binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSubject {
    /// The team.
    pub team_id: [u8; 16],
    /// The account.
    pub account_id: [u8; 16],
    /// The account's e-mail address.
    pub email: String,
    /// Its X25519 public key (group keys are sealed to it).
    pub exchange_public: [u8; 32],
    /// Its Ed25519 public key (it signs with it; admins certify members with it).
    pub signing_public: [u8; 32],
    /// Whether the holder may certify other members.
    pub admin: bool,
}

/// A signed [`CertSubject`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// What is certified.
    pub subject: CertSubject,
    /// The signer's Ed25519 public key.
    pub issuer: [u8; 32],
    /// The signature.
    pub signature: [u8; 64],
}

fn signed_message(s: &CertSubject, issuer: &[u8; 32]) -> Vec<u8> {
    associated_data(
        "tessera certificate v1",
        &[
            &s.team_id,
            &s.account_id,
            s.email.as_bytes(),
            &s.exchange_public,
            &s.signing_public,
            &[u8::from(s.admin)],
            issuer,
        ],
    )
}

impl Certificate {
    /// Sign `subject` with `signer` (the team root key for admins, an admin's account key for
    /// members).
    pub fn issue(signer: &SigningKey, subject: CertSubject) -> Self {
        let issuer = signer.verifying_key().to_bytes();
        let signature = signer.sign(&signed_message(&subject, &issuer)).to_bytes();
        Self {
            subject,
            issuer,
            signature,
        }
    }

    fn check_signature(&self, which: &'static str) -> Result<(), CertError> {
        let key = VerifyingKey::from_bytes(&self.issuer)
            .map_err(|_| CertError::Malformed("issuer key"))?;
        key.verify_strict(
            &signed_message(&self.subject, &self.issuer),
            &Signature::from_bytes(&self.signature),
        )
        .map_err(|_| CertError::BadSignature(which))
    }

    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        let s = &self.subject;
        let mut b = Vec::with_capacity(180 + s.email.len());
        b.push(VERSION);
        b.extend_from_slice(&s.team_id);
        b.extend_from_slice(&s.account_id);
        b.extend_from_slice(&s.exchange_public);
        b.extend_from_slice(&s.signing_public);
        b.push(u8::from(s.admin));
        b.extend_from_slice(&self.issuer);
        let len = u16::try_from(s.email.len()).expect("e-mail addresses are short");
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(s.email.as_bytes());
        b.extend_from_slice(&self.signature);
        b
    }

    /// Parse the stored form (the signature is not checked here).
    pub fn decode(b: &[u8]) -> Result<Self, CertError> {
        const FIXED: usize = 1 + 16 + 16 + 32 + 32 + 1 + 32 + 2;
        if b.len() < FIXED + 64 || b[0] != VERSION {
            return Err(CertError::Malformed("length or version"));
        }
        let arr16 = |i: usize| -> [u8; 16] { b[i..i + 16].try_into().expect("16 bytes") };
        let arr32 = |i: usize| -> [u8; 32] { b[i..i + 32].try_into().expect("32 bytes") };
        let email_len = u16::from_be_bytes([b[FIXED - 2], b[FIXED - 1]]) as usize;
        if email_len > MAX_EMAIL || b.len() != FIXED + email_len + 64 {
            return Err(CertError::Malformed("e-mail length"));
        }
        let email = std::str::from_utf8(&b[FIXED..FIXED + email_len])
            .map_err(|_| CertError::Malformed("e-mail is not UTF-8"))?
            .to_owned();
        let admin = match b[97] {
            0 => false,
            1 => true,
            _ => return Err(CertError::Malformed("admin flag")),
        };
        Ok(Self {
            subject: CertSubject {
                team_id: arr16(1),
                account_id: arr16(17),
                exchange_public: arr32(33),
                signing_public: arr32(65),
                admin,
                email,
            },
            issuer: arr32(98),
            signature: b[FIXED + email_len..].try_into().expect("64 bytes remain"),
        })
    }
}

/// A member's certificate and, when an admin (not the root) signed it, the admin's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertChain {
    /// The member's certificate.
    pub leaf: Certificate,
    /// The issuing admin's certificate, signed by the root (absent when the root signed the
    /// leaf).
    pub issuer: Option<Certificate>,
}

impl CertChain {
    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        let certs: Vec<Vec<u8>> = std::iter::once(&self.leaf)
            .chain(self.issuer.as_ref())
            .map(Certificate::encode)
            .collect();
        let mut b = vec![u8::try_from(certs.len()).expect("one or two")];
        for c in certs {
            b.extend_from_slice(&u16::try_from(c.len()).expect("small").to_be_bytes());
            b.extend_from_slice(&c);
        }
        b
    }

    /// Parse the stored form (signatures are checked by [`CertChain::verify`]).
    pub fn decode(b: &[u8]) -> Result<Self, CertError> {
        if b.is_empty() {
            return Err(CertError::Missing);
        }
        let count = b[0] as usize;
        if !(1..=2).contains(&count) {
            return Err(CertError::Malformed("chain length"));
        }
        let mut rest = &b[1..];
        let mut certs = Vec::with_capacity(count);
        for _ in 0..count {
            if rest.len() < 2 {
                return Err(CertError::Malformed("truncated chain"));
            }
            let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            if rest.len() < 2 + len {
                return Err(CertError::Malformed("truncated chain"));
            }
            certs.push(Certificate::decode(&rest[2..2 + len])?);
            rest = &rest[2 + len..];
        }
        if !rest.is_empty() {
            return Err(CertError::Malformed("data after the chain"));
        }
        let issuer = (count == 2).then(|| certs.pop().expect("two certificates"));
        Ok(Self {
            leaf: certs.pop().expect("one certificate"),
            issuer,
        })
    }

    /// Check the chain up to the pinned `root` for `team`, and return the certified subject.
    pub fn verify(&self, root: &[u8; 32], team: &[u8; 16]) -> Result<&CertSubject, CertError> {
        let leaf = &self.leaf;
        if &leaf.subject.team_id != team {
            return Err(CertError::WrongTeam);
        }
        if &leaf.issuer == root {
            leaf.check_signature("root's")?;
            if self.issuer.is_some() {
                return Err(CertError::Malformed(
                    "a root-signed certificate with an issuer",
                ));
            }
            return Ok(&leaf.subject);
        }
        let Some(admin) = &self.issuer else {
            // The admin's certificate was dropped, or the leaf names an unknown signer.
            return Err(CertError::NotChainedToRoot);
        };
        if &admin.issuer != root {
            return Err(CertError::NotChainedToRoot);
        }
        if &admin.subject.team_id != team {
            return Err(CertError::WrongTeam);
        }
        admin.check_signature("root's")?;
        if !admin.subject.admin {
            return Err(CertError::IssuerNotAdmin);
        }
        if admin.subject.signing_public != leaf.issuer {
            return Err(CertError::NotChainedToRoot);
        }
        leaf.check_signature("admin's")?;
        Ok(&leaf.subject)
    }

    /// [`CertChain::verify`], then check that the certificate names exactly the presented
    /// account and keys.
    pub fn verify_for(
        &self,
        root: &[u8; 32],
        team: &[u8; 16],
        account_id: &[u8; 16],
        exchange_public: &[u8],
        signing_public: &[u8],
    ) -> Result<&CertSubject, CertError> {
        let s = self.verify(root, team)?;
        if &s.account_id != account_id {
            return Err(CertError::Mismatch("account id"));
        }
        if s.exchange_public.as_slice() != exchange_public {
            return Err(CertError::Mismatch("encryption key"));
        }
        if s.signing_public.as_slice() != signing_public {
            return Err(CertError::Mismatch("signing key"));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn subject(account: u8, admin: bool, signing: &SigningKey) -> CertSubject {
        CertSubject {
            team_id: [7; 16],
            account_id: [account; 16],
            email: format!("u{account}@example.com"),
            exchange_public: [account; 32],
            signing_public: signing.verifying_key().to_bytes(),
            admin,
        }
    }

    fn chain() -> (SigningKey, CertChain) {
        let root = key(1);
        let admin = key(2);
        let member = key(3);
        let admin_cert = Certificate::issue(&root, subject(2, true, &admin));
        let leaf = Certificate::issue(&admin, subject(3, false, &member));
        (
            root,
            CertChain {
                leaf,
                issuer: Some(admin_cert),
            },
        )
    }

    #[test]
    fn a_good_chain_verifies_and_round_trips() {
        let (root, c) = chain();
        let root_pub = root.verifying_key().to_bytes();
        let back = CertChain::decode(&c.encode()).unwrap();
        assert_eq!(back, c);
        let s = back.verify(&root_pub, &[7; 16]).unwrap();
        assert_eq!(s.email, "u3@example.com");
        let direct = CertChain {
            leaf: Certificate::issue(&root, subject(4, true, &key(4))),
            issuer: None,
        };
        assert!(direct.verify(&root_pub, &[7; 16]).is_ok());
    }

    #[test]
    fn substitutions_and_dropped_signatures_are_refused() {
        let (root, good) = chain();
        let root_pub = root.verifying_key().to_bytes();
        let team = [7; 16];

        let mut swapped = good.clone();
        swapped.leaf.subject.exchange_public = [9; 32];
        assert_eq!(
            swapped.verify(&root_pub, &team),
            Err(CertError::BadSignature("admin's"))
        );

        let mut dropped = good.clone();
        dropped.issuer = None;
        assert_eq!(
            dropped.verify(&root_pub, &team),
            Err(CertError::NotChainedToRoot)
        );

        let mut zeroed = good.clone();
        zeroed.leaf.signature = [0; 64];
        assert!(matches!(
            zeroed.verify(&root_pub, &team),
            Err(CertError::BadSignature(_))
        ));

        // A server-made "admin" signed by its own key, not the root.
        let fake_root = key(66);
        let mut forged = good.clone();
        forged.issuer = Some(Certificate::issue(&fake_root, subject(2, true, &key(2))));
        assert_eq!(
            forged.verify(&root_pub, &team),
            Err(CertError::NotChainedToRoot)
        );

        // A member certificate used as an issuer.
        let member_as_admin = Certificate::issue(&root, subject(2, false, &key(2)));
        let mut not_admin = good.clone();
        not_admin.issuer = Some(member_as_admin);
        assert_eq!(
            not_admin.verify(&root_pub, &team),
            Err(CertError::IssuerNotAdmin)
        );

        assert_eq!(good.verify(&root_pub, &[8; 16]), Err(CertError::WrongTeam));
        assert_eq!(
            good.verify_for(&root_pub, &team, &[3; 16], &[3; 32], &[0; 32]),
            Err(CertError::Mismatch("signing key"))
        );
        assert_eq!(
            good.verify_for(
                &root_pub,
                &team,
                &[3; 16],
                &[4; 32],
                &key(3).verifying_key().to_bytes()
            ),
            Err(CertError::Mismatch("encryption key"))
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let (_, c) = chain();
        let bytes = c.encode();
        for n in 0..bytes.len() {
            assert!(CertChain::decode(&bytes[..n]).is_err(), "prefix {n}");
        }
        assert_eq!(CertChain::decode(&[]), Err(CertError::Missing));
    }
}
