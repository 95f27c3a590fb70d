//! Generated blocks in hand-written Markdown: the text between `<!-- results:KEY:begin -->`
//! and `<!-- results:KEY:end -->` is replaced, everything else is kept byte for byte.
//!
//! # Invariants
//! 1. Replacing a block is idempotent: replacing it again with the same content gives the
//!    same text.
//! 2. A missing, duplicated or unordered marker pair is an error naming the key; the text is
//!    then not changed at all.

/// The opening marker of block `key`.
pub fn begin(key: &str) -> String {
    format!("<!-- results:{key}:begin -->")
}

/// The closing marker of block `key`.
pub fn end(key: &str) -> String {
    format!("<!-- results:{key}:end -->")
}

/// An empty block for `key`, for a new document.
pub fn empty_block(key: &str) -> String {
    format!("{}\n{}\n", begin(key), end(key))
}

/// `text` with block `key` holding `content` (Invariants 1 and 2). The content sits on its
/// own lines between the markers.
///
/// # Errors
/// A one-line message naming the key when its markers are missing, repeated or reversed.
pub fn replace_block(text: &str, key: &str, content: &str) -> Result<String, String> {
    let (open, close) = (begin(key), end(key));
    let starts: Vec<usize> = text.match_indices(&open).map(|(i, _)| i).collect();
    let ends: Vec<usize> = text.match_indices(&close).map(|(i, _)| i).collect();
    let (start, stop) = match (starts.as_slice(), ends.as_slice()) {
        ([start], [stop]) if start < stop => (*start, *stop),
        ([], _) | (_, []) => return Err(format!("no '{open}' ... '{close}' block")),
        ([_], [_]) => return Err(format!("'{close}' comes before '{open}'")),
        _ => return Err(format!("the markers of block '{key}' appear more than once")),
    };
    let body = content.trim_matches('\n');
    let mut out = String::with_capacity(text.len() + content.len());
    out.push_str(&text[..start + open.len()]);
    out.push('\n');
    if !body.is_empty() {
        out.push_str(body);
        out.push('\n');
    }
    out.push_str(&text[stop..]);
    Ok(out)
}

/// `text` with every `(key, content)` block replaced.
///
/// # Errors
/// Every block that could not be replaced, one message (the text is then left unchanged).
pub fn replace_blocks(text: &str, blocks: &[(String, String)]) -> Result<String, String> {
    let mut out = text.to_owned();
    let mut problems = Vec::new();
    for (key, content) in blocks {
        match replace_block(&out, key, content) {
            Ok(next) => out = next,
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Title\n\nProse.\n\n<!-- results:ring:begin -->\nold table\n<!-- results:ring:end -->\n\nMore prose.\n";

    #[test]
    fn the_block_is_replaced_and_the_rest_kept() {
        let out = replace_block(DOC, "ring", "| a |\n|---|\n| 1 |\n").unwrap();
        assert_eq!(
            out,
            "# Title\n\nProse.\n\n<!-- results:ring:begin -->\n| a |\n|---|\n| 1 |\n<!-- results:ring:end -->\n\nMore prose.\n"
        );
    }

    #[test]
    fn replacing_is_idempotent() {
        let once = replace_block(DOC, "ring", "\n\nnew\n\n").unwrap();
        let twice = replace_block(&once, "ring", "\n\nnew\n\n").unwrap();
        assert_eq!(once, twice);
        let emptied = replace_block(&once, "ring", "").unwrap();
        assert!(emptied.contains("<!-- results:ring:begin -->\n<!-- results:ring:end -->"), "{emptied}");
        assert_eq!(replace_block(&emptied, "ring", "").unwrap(), emptied);
    }

    #[test]
    fn missing_repeated_or_reversed_markers_are_errors() {
        let missing = replace_block(DOC, "spawn", "x").unwrap_err();
        assert!(missing.contains("results:spawn:begin") && !missing.contains('\n'), "{missing}");
        let no_end = DOC.replace("<!-- results:ring:end -->", "");
        assert!(replace_block(&no_end, "ring", "x").is_err());
        let reversed = "<!-- results:ring:end -->\n<!-- results:ring:begin -->\n";
        assert!(replace_block(reversed, "ring", "x").unwrap_err().contains("before"));
        let twice = format!("{DOC}{DOC}");
        assert!(replace_block(&twice, "ring", "x").unwrap_err().contains("more than once"));
    }

    #[test]
    fn several_blocks_fail_together() {
        let doc = format!("{}{}", empty_block("a"), empty_block("b"));
        let blocks = [("a".to_owned(), "A".to_owned()), ("b".to_owned(), "B".to_owned())];
        let out = replace_blocks(&doc, &blocks).unwrap();
        assert!(out.contains(":a:begin -->\nA\n<!--") && out.contains(":b:begin -->\nB\n<!--"), "{out}");
        let blocks = [("a".to_owned(), "A".to_owned()), ("c".to_owned(), "C".to_owned())];
        let problem = replace_blocks(&doc, &blocks).unwrap_err();
        assert!(problem.contains("results:c:begin"), "{problem}");
    }
}
