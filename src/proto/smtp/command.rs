//! SMTP commands: parse a command line (RFC 5321 section 4.1.1).
//!
//! Verbs are case-insensitive (section 2.4). `MAIL FROM: <x>` with a space
//! after the colon is not in the grammar but is common; it is tolerated and
//! logged.

use super::address::{self, PathError};

/// One parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain` (section 4.1.1.1).
    Ehlo(String),
    /// `HELO domain` (section 4.1.1.1).
    Helo(String),
    /// `MAIL FROM:<reverse-path> [params]` (section 4.1.1.2); "" is the
    /// null reverse-path.
    Mail {
        /// The reverse-path without brackets.
        reverse_path: String,
        /// Mail-parameters as (keyword upper-cased, value).
        params: Vec<(String, Option<String>)>,
    },
    /// `RCPT TO:<forward-path> [params]` (section 4.1.1.3).
    Rcpt {
        /// The forward-path without brackets.
        forward_path: String,
        /// Rcpt-parameters as (keyword upper-cased, value).
        params: Vec<(String, Option<String>)>,
    },
    /// `DATA` (section 4.1.1.4).
    Data,
    /// `RSET` (section 4.1.1.5).
    Rset,
    /// `VRFY string` (section 4.1.1.6).
    Vrfy,
    /// `EXPN string` (section 4.1.1.7).
    Expn,
    /// `HELP [string]` (section 4.1.1.8).
    Help,
    /// `NOOP [string]` (section 4.1.1.9).
    Noop,
    /// `QUIT` (section 4.1.1.10).
    Quit,
}

/// Why a command line was refused, with the reply it earns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// Unknown verb: 500 (section 4.2.4).
    Unrecognized,
    /// Bad or missing arguments: 501.
    Syntax,
    /// Path longer than 256 octets: 501 (section 4.5.3.1.10).
    PathTooLong,
    /// Malformed mailbox inside the brackets: 553.
    Mailbox,
}

/// Parses one command line, without its CRLF.
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    let verb_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let verb = &line[..verb_end];
    let verb = match std::str::from_utf8(verb) {
        Ok(v) if verb.len() == 4 => v.to_ascii_uppercase(),
        _ => return Err(CommandError::Unrecognized),
    };
    let args = match std::str::from_utf8(&line[verb_end..]) {
        Ok(a) if a.bytes().all(|b| b == b'\t' || b >= b' ') => a,
        _ => return Err(known_verb_or(&verb, CommandError::Syntax)),
    };
    let arg = args.strip_prefix(' ').unwrap_or(args);
    match verb.as_str() {
        "EHLO" => parse_domain_arg(arg).map(Command::Ehlo),
        "HELO" => parse_domain_arg(arg).map(Command::Helo),
        "MAIL" => {
            parse_path_command(arg, "FROM:", true).map(|(reverse_path, params)| Command::Mail {
                reverse_path,
                params,
            })
        }
        "RCPT" => {
            parse_path_command(arg, "TO:", false).map(|(forward_path, params)| Command::Rcpt {
                forward_path,
                params,
            })
        }
        "DATA" => no_args(args, Command::Data),
        "RSET" => no_args(args, Command::Rset),
        "QUIT" => no_args(args, Command::Quit),
        "NOOP" => Ok(Command::Noop),
        "HELP" => Ok(Command::Help),
        "VRFY" if !arg.trim().is_empty() => Ok(Command::Vrfy),
        "EXPN" if !arg.trim().is_empty() => Ok(Command::Expn),
        "VRFY" | "EXPN" => Err(CommandError::Syntax),
        _ => Err(CommandError::Unrecognized),
    }
}

fn known_verb_or(verb: &str, err: CommandError) -> CommandError {
    const VERBS: [&str; 11] = [
        "EHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "VRFY", "EXPN", "HELP", "NOOP", "QUIT",
    ];
    if VERBS.contains(&verb) {
        err
    } else {
        CommandError::Unrecognized
    }
}

fn no_args(args: &str, cmd: Command) -> Result<Command, CommandError> {
    if args.trim().is_empty() {
        Ok(cmd)
    } else {
        Err(CommandError::Syntax)
    }
}

/// The domain or address literal of EHLO/HELO; anything after it (some
/// clients add words) is ignored.
fn parse_domain_arg(arg: &str) -> Result<String, CommandError> {
    let name = arg.split_whitespace().next().ok_or(CommandError::Syntax)?;
    if address::is_domain(name) {
        Ok(name.to_string())
    } else {
        Err(CommandError::Syntax)
    }
}

type Params = Vec<(String, Option<String>)>;

/// `FROM:<path> params` or `TO:<path> params`.
fn parse_path_command(
    arg: &str,
    keyword: &str,
    null_allowed: bool,
) -> Result<(String, Params), CommandError> {
    let head = arg.get(..keyword.len()).ok_or(CommandError::Syntax)?;
    if !head.eq_ignore_ascii_case(keyword) {
        return Err(CommandError::Syntax);
    }
    let mut rest = &arg[keyword.len()..];
    if rest.starts_with(' ') {
        tracing::warn!(
            keyword,
            "tolerated space after the colon (RFC 5321 section 4.1.1.2)"
        );
        rest = rest.trim_start_matches(' ');
    }
    let (path, after) = address::parse_path(rest).map_err(|e| match e {
        PathError::Syntax => CommandError::Syntax,
        PathError::TooLong => CommandError::PathTooLong,
        PathError::Mailbox => CommandError::Mailbox,
    })?;
    check_path(&path, null_allowed)?;
    Ok((path, parse_params(after)?))
}

fn check_path(path: &str, null_allowed: bool) -> Result<(), CommandError> {
    // RCPT TO:<Postmaster> without a domain must be accepted (section 4.1.1.3).
    let postmaster = !null_allowed && path.eq_ignore_ascii_case("postmaster");
    match () {
        _ if path.is_empty() && null_allowed => Ok(()),
        _ if path.is_empty() => Err(CommandError::Syntax),
        _ if postmaster => Ok(()),
        _ => address::check_mailbox(path).map_err(|_| CommandError::Mailbox),
    }
}

/// `esmtp-param *(SP esmtp-param)`, each `keyword[=value]` (section 4.1.2).
fn parse_params(s: &str) -> Result<Params, CommandError> {
    let mut params = Vec::new();
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (word, None),
        };
        let key_ok = key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !key_ok {
            return Err(CommandError::Syntax);
        }
        params.push((key.to_ascii_uppercase(), value));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(path: &str) -> Command {
        Command::Mail {
            reverse_path: path.into(),
            params: vec![],
        }
    }

    #[test]
    fn verbs_and_keywords_are_case_insensitive() {
        assert_eq!(parse_command(b"mail from:<a@b.org>"), Ok(mail("a@b.org")));
        assert_eq!(parse_command(b"MaIl FrOm:<a@b.org>"), Ok(mail("a@b.org")));
        assert_eq!(parse_command(b"quit"), Ok(Command::Quit));
    }

    #[test]
    fn a_space_after_the_colon_is_tolerated() {
        assert_eq!(parse_command(b"MAIL FROM: <a@b.org>"), Ok(mail("a@b.org")));
    }

    #[test]
    fn parameters_are_split_and_upper_cased() {
        let got = parse_command(b"MAIL FROM:<a@b.org> size=123 BODY=8BITMIME");
        let params = vec![
            ("SIZE".to_string(), Some("123".to_string())),
            ("BODY".to_string(), Some("8BITMIME".to_string())),
        ];
        assert_eq!(
            got,
            Ok(Command::Mail {
                reverse_path: "a@b.org".into(),
                params
            })
        );
    }

    #[test]
    fn postmaster_needs_no_domain_but_others_do() {
        let ok = parse_command(b"RCPT TO:<Postmaster>");
        assert_eq!(
            ok,
            Ok(Command::Rcpt {
                forward_path: "Postmaster".into(),
                params: vec![]
            })
        );
        assert_eq!(parse_command(b"RCPT TO:<bob>"), Err(CommandError::Mailbox));
        assert_eq!(parse_command(b"RCPT TO:<>"), Err(CommandError::Syntax));
    }

    #[test]
    fn errors_map_to_the_right_class() {
        assert_eq!(parse_command(b"FOO"), Err(CommandError::Unrecognized));
        assert_eq!(
            parse_command(b"\0\x01\x02\xff"),
            Err(CommandError::Unrecognized)
        );
        assert_eq!(parse_command(b"MAIL\xff"), Err(CommandError::Unrecognized));
        assert_eq!(parse_command(b"MAIL FROM:\xff"), Err(CommandError::Syntax));
        assert_eq!(
            parse_command(b"MAIL TO:<a@b.org>"),
            Err(CommandError::Syntax)
        );
        assert_eq!(
            parse_command(b"MAIL FROM:a@b.org"),
            Err(CommandError::Syntax)
        );
        assert_eq!(parse_command(b"HELO"), Err(CommandError::Syntax));
        assert_eq!(parse_command(b"DATA now"), Err(CommandError::Syntax));
        assert_eq!(parse_command(b"VRFY"), Err(CommandError::Syntax));
    }
}
