//! A small, binary-safe `multipart/form-data` parser: enough to decode what clients upload to Discord.

/// One part of a multipart body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) name: String,
    pub(crate) filename: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) data: Vec<u8>,
}

/// The boundary from a `Content-Type: multipart/form-data; boundary=...` header.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// Parses a body; `Err` describes what is malformed.
pub(crate) fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut position = find(body, &delimiter, 0).ok_or("no opening boundary")? + delimiter.len();
    loop {
        if body.get(position..position + 2) == Some(b"--") {
            return Ok(parts);
        }
        // Skip the CRLF after the boundary line.
        if body.get(position..position + 2) == Some(b"\r\n") {
            position += 2;
        } else {
            return Err("boundary not followed by CRLF".into());
        }
        let headers_end = find(body, b"\r\n\r\n", position).ok_or("part headers not terminated")?;
        let headers = std::str::from_utf8(&body[position..headers_end])
            .map_err(|_| "part headers are not UTF-8")?;
        let mut next_delimiter = b"\r\n".to_vec();
        next_delimiter.extend_from_slice(&delimiter);
        let data_start = headers_end + 4;
        let data_end =
            find(body, &next_delimiter, data_start).ok_or("part not terminated by a boundary")?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data: body[data_start..data_end].to_vec(),
        };
        for line in headers.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else { continue };
            match key.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for param in value.split(';').skip(1) {
                        if let Some((k, v)) = param.split_once('=') {
                            let v = v.trim().trim_matches('"').to_owned();
                            match k.trim() {
                                "name" => part.name = v,
                                "filename" => part.filename = Some(v),
                                _ => {}
                            }
                        }
                    }
                }
                "content-type" => part.content_type = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        if part.name.is_empty() {
            return Err("part without a name".into());
        }
        parts.push(part);
        position = data_end + next_delimiter.len();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_text_and_binary_parts() {
        let png = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', 0, 255, b'-', b'-'];
        let mut body = Vec::new();
        body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"payload_json\"\r\nContent-Type: application/json\r\n\r\n{\"content\":\"hi\"}\r\n");
        body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n");
        body.extend_from_slice(&png);
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        let parts = parse(&body, &boundary("multipart/form-data; boundary=XyZ").unwrap()).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "payload_json");
        assert_eq!(parts[0].data, b"{\"content\":\"hi\"}");
        assert_eq!(parts[1].filename.as_deref(), Some("a.png"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(parts[1].data, png);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse(b"nothing here", "b").is_err());
        assert!(boundary("application/json").is_none());
    }
}
