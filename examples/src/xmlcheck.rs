//! A small XML well-formedness check, enough to test the SVG files this crate writes without
//! an XML dependency: an optional `<?xml ...?>` prolog, comments, elements with quoted
//! attributes, balanced and properly nested tags, one root element, and only the five
//! predefined entities or character references in text and attribute values.

/// Checks `doc`; returns the number of elements, or what is wrong and where (byte offset).
pub fn check(doc: &str) -> Result<usize, String> {
    let b = doc.as_bytes();
    let mut i = 0;
    let mut stack: Vec<&str> = Vec::new();
    let mut elements = 0;
    let mut roots = 0;
    skip_ws(b, &mut i);
    if doc[i..].starts_with("<?xml") {
        i = doc[i..]
            .find("?>")
            .map(|e| i + e + 2)
            .ok_or("unterminated <?xml prolog")?;
    }
    while i < b.len() {
        if b[i] != b'<' {
            let start = i;
            while i < b.len() && b[i] != b'<' {
                i += 1;
            }
            let text = &doc[start..i];
            if stack.is_empty() && !text.trim().is_empty() {
                return Err(format!("text outside the root element at {start}"));
            }
            check_entities(text, start)?;
            continue;
        }
        if doc[i..].starts_with("<!--") {
            i = doc[i..]
                .find("-->")
                .map(|e| i + e + 3)
                .ok_or_else(|| format!("unterminated comment at {i}"))?;
            continue;
        }
        if doc[i..].starts_with("</") {
            let start = i;
            i += 2;
            let name = read_name(doc, &mut i).ok_or_else(|| format!("bad end tag at {start}"))?;
            skip_ws(b, &mut i);
            if b.get(i) != Some(&b'>') {
                return Err(format!("end tag </{name}> not closed at {i}"));
            }
            i += 1;
            match stack.pop() {
                Some(open) if open == name => {}
                Some(open) => return Err(format!("</{name}> at {start} closes <{open}>")),
                None => return Err(format!("</{name}> at {start} closes nothing")),
            }
            continue;
        }
        // Start tag.
        let start = i;
        i += 1;
        let name = read_name(doc, &mut i).ok_or_else(|| format!("bad start tag at {start}"))?;
        if stack.is_empty() {
            roots += 1;
            if roots > 1 {
                return Err(format!("second root element <{name}> at {start}"));
            }
        }
        elements += 1;
        let mut seen: Vec<&str> = Vec::new();
        loop {
            let had_ws = skip_ws(b, &mut i);
            match b.get(i) {
                Some(b'>') => {
                    i += 1;
                    stack.push(name);
                    break;
                }
                Some(b'/') if b.get(i + 1) == Some(&b'>') => {
                    i += 2;
                    break;
                }
                Some(_) if had_ws => {
                    let at = i;
                    let attr = read_name(doc, &mut i)
                        .ok_or_else(|| format!("bad attribute in <{name}> at {at}"))?;
                    if seen.contains(&attr) {
                        return Err(format!("duplicate attribute {attr} in <{name}> at {at}"));
                    }
                    seen.push(attr);
                    skip_ws(b, &mut i);
                    if b.get(i) != Some(&b'=') {
                        return Err(format!("attribute {attr} without a value at {i}"));
                    }
                    i += 1;
                    skip_ws(b, &mut i);
                    let q = *b.get(i).ok_or("document ends in a tag")?;
                    if q != b'"' && q != b'\'' {
                        return Err(format!("unquoted value of {attr} at {i}"));
                    }
                    let vstart = i + 1;
                    let vend = doc[vstart..]
                        .find(q as char)
                        .map(|e| vstart + e)
                        .ok_or_else(|| format!("unterminated value of {attr} at {i}"))?;
                    let value = &doc[vstart..vend];
                    if value.contains('<') {
                        return Err(format!("'<' in the value of {attr} at {vstart}"));
                    }
                    check_entities(value, vstart)?;
                    i = vend + 1;
                }
                Some(_) => return Err(format!("expected whitespace, '>' or '/>' at {i}")),
                None => return Err(format!("document ends inside <{name}>")),
            }
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> is never closed"));
    }
    if roots == 0 {
        return Err("no root element".into());
    }
    Ok(elements)
}

fn skip_ws(b: &[u8], i: &mut usize) -> bool {
    let start = *i;
    while *i < b.len() && b[*i].is_ascii_whitespace() {
        *i += 1;
    }
    *i > start
}

fn read_name<'a>(doc: &'a str, i: &mut usize) -> Option<&'a str> {
    let b = doc.as_bytes();
    let start = *i;
    while *i < b.len()
        && (b[*i].is_ascii_alphanumeric() || matches!(b[*i], b'_' | b'-' | b':' | b'.'))
    {
        *i += 1;
    }
    let name = &doc[start..*i];
    (!name.is_empty() && !name.as_bytes()[0].is_ascii_digit() && name.as_bytes()[0] != b'-')
        .then_some(name)
}

fn check_entities(text: &str, offset: usize) -> Result<(), String> {
    let mut rest = text;
    let mut base = offset;
    while let Some(p) = rest.find('&') {
        let after = &rest[p + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| format!("'&' without ';' at {}", base + p))?;
        let ent = &after[..end];
        let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
            || (ent.starts_with("#x")
                && ent.len() > 2
                && ent[2..].bytes().all(|c| c.is_ascii_hexdigit()))
            || (ent.starts_with('#')
                && ent.len() > 1
                && ent[1..].bytes().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(format!("unknown entity &{ent}; at {}", base + p));
        }
        base += p + 1 + end + 1;
        rest = &after[end + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_well_formed_documents() {
        assert_eq!(check("<a/>"), Ok(1));
        assert_eq!(
            check("<?xml version=\"1.0\"?>\n<svg x='1' y=\"2\"><!-- c --><g><rect/></g>t &amp; &#60;</svg>\n"),
            Ok(3)
        );
    }

    #[test]
    fn rejects_broken_ones() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "<a x=1/>",
            "<a x=\"1\" x=\"2\"/>",
            "<a>&nbsp;</a>",
            "<a>& b</a>",
            "<a x=\"<\"/>",
            "text<a/>",
            "<a><!-- open </a>",
            "</a>",
        ] {
            assert!(check(bad).is_err(), "accepted {bad:?}");
        }
    }
}
