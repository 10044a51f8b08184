//! How strong a password someone chose is, estimated by zxcvbn.
//!
//! zxcvbn (Wheeler, "zxcvbn: Low-Budget Password Strength Estimation", USENIX Security 2016)
//! looks for dictionary words, names, keyboard patterns, dates, repeats and sequences, and
//! estimates how many guesses an attacker who knows those patterns needs. It reads only the first
//! 100 characters, and it copies the password internally into buffers it does not zeroize; pass
//! it the password only when the user asks for the estimate.
use zxcvbn::zxcvbn;

/// zxcvbn's estimate for one password.
#[derive(Clone, Debug, PartialEq)]
pub struct Strength {
    /// 0 (guessable in under 10^3 tries) to 4 (more than 10^10 tries); below 3 is too weak.
    pub score: u8,
    /// log10 of the estimated number of guesses.
    pub guesses_log10: f64,
    /// The estimated time to crack it offline against a slow hash (10^4 guesses a second), in
    /// seconds.
    pub crack_time_seconds: f64,
    /// The same as text people read: "3 hours", "centuries", "less than a second".
    pub crack_time_display: String,
    /// What is wrong with it, when zxcvbn knows ("This is a top-10 common password.").
    pub warning: Option<String>,
    /// How to improve it.
    pub suggestions: Vec<String>,
}

/// Estimate the strength of `password`.
///
/// `user_inputs` are strings an attacker would try first: the item's title, URL, username, the
/// user's email address and name. A password built from them scores lower.
/// zxcvbn matches each input as a whole word, so an email address or a title is also split into
/// its parts (`alice.smith@example.com` adds `alice`, `smith`, `example`).
pub fn estimate_strength(password: &str, user_inputs: &[&str]) -> Strength {
    let mut inputs: Vec<&str> = Vec::with_capacity(user_inputs.len() * 4);
    for input in user_inputs {
        inputs.push(input);
        inputs.extend(
            input
                .split(|c: char| !c.is_alphanumeric())
                .filter(|part| part.chars().count() >= 3 && part.len() < input.len()),
        );
    }
    let entropy = zxcvbn(password, &inputs);
    let crack = entropy.crack_times().offline_slow_hashing_1e4_per_second();
    let crack_time_seconds = match crack {
        zxcvbn::time_estimates::CrackTimeSeconds::Integer(s) => s as f64,
        zxcvbn::time_estimates::CrackTimeSeconds::Float(s) => s,
    };
    let feedback = entropy.feedback();
    Strength {
        score: u8::from(entropy.score()),
        guesses_log10: entropy.guesses_log10(),
        crack_time_seconds,
        crack_time_display: crack.to_string(),
        warning: feedback
            .and_then(zxcvbn::feedback::Feedback::warning)
            .map(|w| w.to_string()),
        suggestions: feedback
            .map(|f| f.suggestions().iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{generate_passphrase, PassphraseOptions};

    #[test]
    fn common_password_scores_zero_with_feedback() {
        let s = estimate_strength("password", &[]);
        assert_eq!(s.score, 0);
        assert!(s.guesses_log10 < 1.0, "{}", s.guesses_log10);
        assert_eq!(s.crack_time_display, "less than a second");
        assert!(s
            .warning
            .as_deref()
            .is_some_and(|w| w.contains("common password")));
        assert!(!s.suggestions.is_empty());
    }

    #[test]
    fn six_word_passphrase_scores_four() {
        for _ in 0..20 {
            let p = generate_passphrase(&PassphraseOptions::default()).unwrap();
            let s = estimate_strength(p.secret.expose_secret(), &[]);
            assert_eq!(s.score, 4, "{s:?}");
            assert!(s.guesses_log10 > 10.0);
            assert_eq!(s.warning, None);
            assert!(s.suggestions.is_empty());
        }
    }

    #[test]
    fn user_inputs_are_penalised() {
        let pw = "quixotically-tessera";
        let alone = estimate_strength(pw, &[]);
        let with = estimate_strength(pw, &["quixotically@example.com", "Tessera vault"]);
        assert!(
            with.guesses_log10 < alone.guesses_log10 - 3.0,
            "{} vs {}",
            with.guesses_log10,
            alone.guesses_log10
        );
        assert!(with.score < alone.score);
    }

    #[test]
    fn crack_time_is_for_a_slow_offline_hash() {
        // 10^4 guesses a second: the time is guesses / 10^4.
        let s = estimate_strength("Tr0ub4dour&3", &[]);
        let want = 10f64.powf(s.guesses_log10) / 1e4;
        assert!((s.crack_time_seconds / want - 1.0).abs() < 1e-6);
        assert!(!s.crack_time_display.is_empty());
        let empty = estimate_strength("", &[]);
        assert_eq!(empty.score, 0);
    }
}
