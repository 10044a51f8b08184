//! The primes of a new RSA key, searched for on every core.
//!
//! `rsa::RsaPrivateKey::new` (what `ssh_key::private::RsaKeypair::random` calls) finds its two
//! primes one after the other on one thread, and screens each candidate only by the 15 odd primes
//! below 54 before a Miller-Rabin round, a full modular exponentiation. Here each of up to
//! [`MAX_THREADS`] threads takes a random odd start with the top two bits set, sieves the
//! [`WINDOW`] odd numbers above it by every prime below 2^16 (OpenSSL sieves too before it
//! tests), so about 2.8 times fewer candidates reach an exponentiation, and tests the survivors
//! with the test `rsa` itself uses: `num_bigint_dig::prime::probably_prime` with 20 rounds (21
//! Miller-Rabin rounds, the last with base 2, and a Lucas test). The key takes the first two
//! distinct primes any thread finds, and `rsa` puts it together (`RsaPrivateKey::from_primes`
//! computes the private exponent and checks the key). Figures: docs/PERFORMANCE.md, "SSH key
//! generation".
//!
//! Each prime is the first one found above a fresh random start, the incremental search that
//! OpenSSL, Go and num-bigint-dig's own `gen_prime` use (as there, a prime after a long gap is a
//! little likelier to be picked). A prime `p` is kept only if `p - 1` is coprime to the public
//! exponent 65537 (a prime, so `p mod 65537 != 1`), so the private exponent always exists.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, OnceLock};

use num_bigint_dig::prime::probably_prime;
use num_bigint_dig::BigUint;
use rand_core::{OsRng, RngCore};
use rsa::RsaPrivateKey;
use zeroize::Zeroizing;

/// The public exponent, the one OpenSSH and the `rsa` crate use.
const EXPONENT: u32 = 65_537;
/// Candidates are sieved by every odd prime below this.
const SIEVE_LIMIT: usize = 1 << 16;
/// Odd candidates per random start: the average gap between primes of 2048 bits is about 1,420
/// (710 odd numbers), so a window without a usable prime is rare (and then a new start is drawn).
const WINDOW: usize = 4096;
/// Miller-Rabin rounds beyond the first, what `rsa::RsaPrivateKey::new` asks of each prime.
const ROUNDS: usize = 20;
/// More threads than this would only contend with the rest of the machine.
const MAX_THREADS: usize = 8;

/// A new RSA key with a modulus of exactly `bits` bits (an even number, 2048 or more) and the
/// public exponent 65537, its primes found on every available core.
pub(super) fn rsa_key(bits: usize) -> Result<RsaPrivateKey, rsa::Error> {
    let threads = std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(MAX_THREADS);
    let (mut p, mut q) = two_primes(bits / 2, threads);
    // The primes move into the key (which wipes them on drop); what is left here is zero.
    let primes = vec![std::mem::take(&mut *p), std::mem::take(&mut *q)];
    let key = RsaPrivateKey::from_primes(primes, BigUint::from(EXPONENT))?;
    debug_assert_eq!(rsa::traits::PublicKeyParts::n(&key).bits(), bits);
    Ok(key)
}

/// The odd primes below [`SIEVE_LIMIT`] (sieve of Eratosthenes, computed once).
fn small_primes() -> &'static [u32] {
    static PRIMES: OnceLock<Vec<u32>> = OnceLock::new();
    PRIMES.get_or_init(|| {
        let mut composite = vec![false; SIEVE_LIMIT];
        let mut primes = Vec::new();
        for n in (3..SIEVE_LIMIT).step_by(2) {
            if !composite[n] {
                primes.push(u32::try_from(n).expect("below 2^16"));
                (n * n..SIEVE_LIMIT)
                    .step_by(2 * n)
                    .for_each(|m| composite[m] = true);
            }
        }
        primes
    })
}

/// Two distinct primes of exactly `bits` bits each, their top two bits set (so their product
/// has exactly `2 * bits` bits) and `p mod 65537 != 1`, found by `threads` threads at once.
fn two_primes(bits: usize, threads: usize) -> (Zeroizing<BigUint>, Zeroizing<BigUint>) {
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Zeroizing<BigUint>>();
    let found = std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            let tx = tx.clone();
            let stop = &stop;
            s.spawn(move || search(bits, stop, &tx));
        }
        drop(tx);
        // The threads only return once `stop` is set, so the channel stays open until then.
        let first = rx.recv().expect("the searching threads run until stopped");
        let second = loop {
            let next = rx.recv().expect("the searching threads run until stopped");
            if *next != *first {
                break next;
            }
        };
        stop.store(true, Ordering::Relaxed);
        (first, second)
    });
    // Primes found after these two are wiped here with the channel.
    drop(rx);
    found
}

/// Send primes of `bits` bits on `tx` until `stop` is set.
fn search(bits: usize, stop: &AtomicBool, tx: &mpsc::Sender<Zeroizing<BigUint>>) {
    let primes = small_primes();
    let mut start = Zeroizing::new(vec![0u8; bits.div_ceil(8)]);
    let mut composite = Zeroizing::new(vec![false; WINDOW]);
    let top = (bits - 1) % 8; // the top bit's position in the first byte
    while !stop.load(Ordering::Relaxed) {
        OsRng.fill_bytes(&mut start);
        // Exactly `bits` bits, the top two set, odd.
        start[0] &= u8::MAX >> (7 - top);
        if top >= 1 {
            start[0] |= 3 << (top - 1);
        } else {
            start[0] |= 1;
            start[1] |= 0x80;
        }
        *start.last_mut().expect("a prime has at least one byte") |= 1;
        let base = Zeroizing::new(BigUint::from_bytes_be(&start));

        // composite[i]: base + 2i has a factor below 2^16.
        composite.fill(false);
        for &p in primes {
            let (p, r) = (u64::from(p), u64::from(residue(&start, p)));
            // base + 2i ≡ 0 (mod p)  ⇔  i ≡ -r · 2⁻¹ (mod p), with 2⁻¹ = (p + 1) / 2.
            let first = usize::try_from((p - r) % p * p.div_ceil(2) % p).expect("below 2^16");
            (first..WINDOW)
                .step_by(p as usize)
                .for_each(|i| composite[i] = true);
        }
        let base_mod_e = u64::from(residue(&start, EXPONENT));

        for i in (0..WINDOW).filter(|i| !composite[*i]) {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let offset = 2 * i as u64;
            let candidate = Zeroizing::new(&*base + BigUint::from(offset));
            if candidate.bits() != bits {
                break; // past the top: draw a new start
            }
            if (base_mod_e + offset) % u64::from(EXPONENT) != 1
                && probably_prime(&candidate, ROUNDS)
            {
                if tx.send(candidate).is_err() {
                    return; // the key has its primes
                }
                break; // the next prime comes from a new random start
            }
        }
    }
}

/// The big-endian number `bytes` modulo a small `m`.
fn residue(bytes: &[u8], m: u32) -> u32 {
    let m = u64::from(m);
    let r = bytes
        .iter()
        .fold(0u64, |r, b| ((r << 8) | u64::from(*b)) % m);
    u32::try_from(r).expect("a residue is below its modulus")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};

    #[test]
    fn the_sieve_holds_every_odd_prime_below_2_16() {
        let primes = small_primes();
        // π(2^16) = 6542, less the prime 2.
        assert_eq!(primes.len(), 6541);
        assert_eq!(&primes[..6], &[3, 5, 7, 11, 13, 17]);
        assert_eq!(primes.last(), Some(&65_521));
        for &p in primes.iter().step_by(97) {
            assert!((2..p).take_while(|d| d * d <= p).all(|d| p % d != 0), "{p}");
        }
    }

    #[test]
    fn residues_agree_with_big_integer_division() {
        let mut bytes = [0u8; 192];
        OsRng.fill_bytes(&mut bytes);
        let n = BigUint::from_bytes_be(&bytes);
        for m in [3u32, 65_521, EXPONENT, u32::MAX] {
            assert_eq!(BigUint::from(residue(&bytes, m)), &n % m, "mod {m}");
        }
    }

    #[test]
    fn primes_have_the_size_and_form_a_key_needs() {
        for bits in [512, 521, 1024] {
            let (p, q) = two_primes(bits, 2);
            assert_ne!(*p, *q);
            for x in [&*p, &*q] {
                assert_eq!(x.bits(), bits);
                // The top two bits are set, so the product is never a bit short.
                assert!(x >> (bits - 2) == BigUint::from(3u8), "{bits}");
                assert!(x % EXPONENT != BigUint::from(1u8));
                assert!(probably_prime(x, ROUNDS));
            }
            assert_eq!((&*p * &*q).bits(), 2 * bits);
        }
    }

    #[test]
    fn rsa_keys_have_the_asked_size_and_are_consistent() {
        let key = rsa_key(2048).unwrap();
        assert_eq!(key.n().bits(), 2048);
        assert_eq!(key.e(), &BigUint::from(EXPONENT));
        assert_eq!(key.primes().len(), 2);
        key.validate().unwrap();
        // A signature made with the private key checks against the public one.
        let m = BigUint::from(0x5eed_u32);
        let s = m.modpow(key.d(), key.n());
        assert_eq!(s.modpow(key.e(), key.n()), m);
    }
}
