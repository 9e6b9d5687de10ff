//! The one error type of scenario loading, and the source map that turns
//! byte offsets into `FILE:LINE:COLUMN` and key paths.

use std::fmt;
use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// A problem found while loading a scenario, located in its file.
///
/// Loading stops at the first problem: fix it and load again. `line` and
/// `column` count from 1; both are 0 when the file itself could not be
/// read. `key` is the path of the offending key, such as
/// `link[2].bandwidth` (array positions count from 0), or empty for TOML
/// syntax errors outside any key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The scenario (or message) file as the caller named it.
    pub file: String,
    /// The line, from 1; 0 when the file could not be read at all.
    pub line: usize,
    /// The column in characters, from 1; 0 with line 0.
    pub column: usize,
    /// The key path, such as `host[0].services`; may be empty.
    pub key: String,
    /// What is wrong, in lower case, often with an example of what is right.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    /// `file:line:column: key: message`, dropping the parts that are unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: ", self.file)?;
        } else {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

impl ScenarioError {
    /// An error about a whole file that could not be read.
    pub(crate) fn io(file: &str, message: String) -> Self {
        ScenarioError {
            file: file.to_string(),
            line: 0,
            column: 0,
            key: String::new(),
            message,
        }
    }
}

/// The scenario text with what is needed to place errors in it.
pub(crate) struct Source<'a> {
    file: &'a str,
    text: &'a str,
    /// Every key, value and array element of the document with its path.
    index: Vec<(String, Range<usize>)>,
}

impl<'a> Source<'a> {
    /// A source map for `text`, indexing the keys of `table` when it parsed.
    pub(crate) fn new(file: &'a str, text: &'a str, table: Option<&DeTable<'_>>) -> Self {
        let mut index = Vec::new();
        if let Some(table) = table {
            index_table(table, "", &mut index);
        }
        Source { file, text, index }
    }

    /// An error at byte range `span`, about `key`.
    pub(crate) fn error(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, column) = self.position(span.start);
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            key: key.into(),
            message: message.into(),
        }
    }

    /// Converts a TOML syntax or serde shape error, finding its key path
    /// from the span and rewording serde's messages for people.
    pub(crate) fn toml_error(&self, e: &toml::de::Error) -> ScenarioError {
        let span = e.span().unwrap_or(0..0);
        let path = self
            .locate(&span)
            .or_else(|| self.key_text(&span))
            .unwrap_or_default();
        let raw = e.message().trim().replace('\n', "; ");
        let (key, message) = reword(&path, &raw);
        self.error(span, key, message)
    }

    /// The 1-based line and character column of byte `offset`.
    fn position(&self, offset: usize) -> (usize, usize) {
        let bytes = self.text.as_bytes();
        let before = &bytes[..offset.min(bytes.len())];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        // Count characters, not bytes: skip UTF-8 continuation bytes.
        let column = 1 + before[line_start..]
            .iter()
            .filter(|&&b| b & 0xC0 != 0x80)
            .count();
        (line, column)
    }

    /// The text at `span` when it looks like a key, for errors (such as a
    /// duplicate key) whose span is outside the indexed document.
    fn key_text(&self, span: &Range<usize>) -> Option<String> {
        let text = self.text.get(span.clone())?.trim();
        let keyish = |c: char| c.is_ascii_alphanumeric() || "_-.\"".contains(c);
        let ok = !text.is_empty() && text.len() <= 64 && text.chars().all(keyish);
        ok.then(|| text.to_string())
    }

    /// The path of the smallest indexed item that encloses `span`; the
    /// deeper path wins a tie (an array-of-tables element shares its
    /// header's span with the array).
    fn locate(&self, span: &Range<usize>) -> Option<String> {
        self.index
            .iter()
            .filter(|(_, s)| s.start <= span.start && span.end <= s.end)
            .min_by_key(|(path, s)| (s.end - s.start, usize::MAX - path.len()))
            .map(|(path, _)| path.clone())
    }
}

fn index_table(table: &DeTable<'_>, prefix: &str, out: &mut Vec<(String, Range<usize>)>) {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        out.push((path.clone(), key.span()));
        index_value(value.get_ref(), value.span(), path, out);
    }
}

fn index_value(
    value: &DeValue<'_>,
    span: Range<usize>,
    path: String,
    out: &mut Vec<(String, Range<usize>)>,
) {
    match value {
        DeValue::Table(table) => index_table(table, &path, out),
        DeValue::Array(array) => {
            for (i, element) in array.iter().enumerate() {
                let element_path = format!("{path}[{i}]");
                index_value(element.get_ref(), element.span(), element_path, out);
            }
        }
        _ => {}
    }
    out.push((path, span));
}

/// Rewords serde's messages: names keys "keys" and suggests the closest
/// allowed key for a misspelt one.
fn reword(path: &str, raw: &str) -> (String, String) {
    if let Some(rest) = raw.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        let key = if path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        };
        return (key, "this required key is missing".to_string());
    }
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let mut quoted = rest.split('`').step_by(2);
        let unknown = quoted.next().unwrap_or_default();
        let allowed: Vec<&str> = quoted.filter(|s| !s.is_empty()).collect();
        return (path.to_string(), unknown_key_message(unknown, &allowed));
    }
    if raw == "duplicate key" {
        return (path.to_string(), "this key is given twice".to_string());
    }
    if let Some((found, wanted)) = raw
        .strip_prefix("invalid type: ")
        .and_then(|rest| rest.split_once(", expected "))
    {
        let message = format!("expected {}, found {found}", plain_type(wanted));
        return (path.to_string(), message);
    }
    (path.to_string(), raw.to_string())
}

/// Serde's Rust type names in words a scenario author knows.
fn plain_type(wanted: &str) -> String {
    match wanted.trim() {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" => {
            "a whole number".to_string()
        }
        "f32" | "f64" => "a number".to_string(),
        "a boolean" | "bool" => "true or false".to_string(),
        other => other.to_string(),
    }
}

fn unknown_key_message(unknown: &str, allowed: &[&str]) -> String {
    let mut message = format!("unknown key `{unknown}`");
    let closest = allowed
        .iter()
        .map(|a| (edit_distance(unknown, a), *a))
        .min()
        .filter(|(d, _)| *d <= 2);
    if let Some((_, suggestion)) = closest {
        message.push_str(&format!(" (did you mean `{suggestion}`?)"));
    }
    if !allowed.is_empty() {
        message.push_str(&format!("; allowed here: {}", allowed.join(", ")));
    }
    message
}

/// Levenshtein distance over characters, for spelling suggestions.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            let best = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
            current.push(best);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of_here(text: &str) -> String {
        let table = DeTable::parse(text).unwrap();
        let src = Source::new("t.toml", text, Some(table.get_ref()));
        let at = text.find("HERE").unwrap();
        src.locate(&(at..at + 4)).unwrap()
    }

    #[test]
    fn errors_display_file_line_column_key_and_message() {
        let e = ScenarioError {
            file: "x.toml".into(),
            line: 12,
            column: 13,
            key: "link[2].bandwidth".into(),
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "x.toml:12:13: link[2].bandwidth: bad");
        let io = ScenarioError::io("y.toml", "cannot read the file".into());
        assert_eq!(io.to_string(), "y.toml: cannot read the file");
    }

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let text = "a = 1\nbé = \"x\"\n";
        let src = Source::new("t.toml", text, None);
        assert_eq!(src.position(0), (1, 1));
        assert_eq!(src.position(6), (2, 1));
        assert_eq!(src.position(text.find('"').unwrap()), (2, 6));
        assert_eq!(src.position(10_000), (3, 1));
    }

    #[test]
    fn spans_map_to_the_deepest_key_path() {
        assert_eq!(path_of_here("[[l]]\n[[l]]\nx = \"HERE\"\n"), "l[1].x");
        let inline = r#"a = [{ b = 1 }, { c = [1, "HERE"] }]"#;
        assert_eq!(path_of_here(inline), "a[1].c[1]");
        assert_eq!(path_of_here("[t]\nu.v = [\"HERE\"]"), "t.u.v[0]");
    }

    #[test]
    fn misspelt_keys_get_a_suggestion() {
        let raw = "unknown field `bandwith`, expected `between` or `bandwidth`";
        let (key, message) = reword("link[0].bandwith", raw);
        assert_eq!(key, "link[0].bandwith");
        assert_eq!(
            message,
            "unknown key `bandwith` (did you mean `bandwidth`?); allowed here: between, bandwidth"
        );
        let (_, message) = reword("link[0].mtu", "invalid type: string \"1500\", expected i64");
        assert_eq!(message, "expected a whole number, found string \"1500\"");
        let (key, message) = reword("run", "missing field `duration`");
        assert_eq!(
            (key.as_str(), message.as_str()),
            ("run.duration", "this required key is missing")
        );
    }
}
