//! One `Set-Cookie` header read as the cookie a browser would store, in Playwright's
//! `storageState` shape: the endpoint reads the cookie Vercel's edge set when it primed itself,
//! and the client (`ci-preview storage-state`) reads the one it primes for when it holds the
//! bypass secret. Both read it here, so the two agree on what a cookie is.
//!
//! Everything in a header is from the network: a name, value or path that a cookie cannot carry
//! (outside printable ASCII, or with `,` `;` `\` `"`) drops the cookie instead of reaching a file
//! or a job log, and so does a cookie that is already expired (a deletion).

use crate::prime::StorageCookie;

/// Printable ASCII without the separators a cookie cannot carry: names and values from the
/// network are kept only when they pass.
pub fn is_cookie_text(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_graphic() && !b",;\\\"".contains(&b))
}

/// One `Set-Cookie` header as the cookie a browser would store for `domain`: the `Domain`
/// attribute is ignored (the cookie stays host-only, as Vercel sets it), `Max-Age` wins over
/// `Expires`, `SameSite` defaults to `Lax`. `None` for a malformed or deleting header.
pub fn parse(header: &str, domain: &str, secure_origin: bool, now: i64) -> Option<StorageCookie> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let (name, value) = (name.trim(), value.trim().trim_matches('"'));
    let token = |s: &str| !s.is_empty() && is_cookie_text(s);
    if !token(name) || !token(value) {
        return None;
    }
    let mut cookie = StorageCookie {
        name: name.to_owned(),
        value: value.to_owned(),
        domain: domain.to_owned(),
        path: "/".to_owned(),
        expires: -1,
        http_only: false,
        secure: secure_origin,
        same_site: "Lax",
    };
    let mut max_age: Option<i64> = None;
    let mut expires: Option<i64> = None;
    for attribute in parts {
        let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
        let val = val.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "path" if val.starts_with('/') && token(val) => cookie.path = val.to_owned(),
            "max-age" => max_age = val.parse().ok(),
            "expires" => expires = expires.or_else(|| http_date(val)),
            "httponly" => cookie.http_only = true,
            "secure" => cookie.secure = true,
            "samesite" => {
                cookie.same_site = match val.to_ascii_lowercase().as_str() {
                    "strict" => "Strict",
                    "none" => "None",
                    _ => "Lax",
                }
            }
            _ => {}
        }
    }
    if let Some(at) = max_age.map(|secs| now.saturating_add(secs)).or(expires) {
        if at <= now {
            return None;
        }
        cookie.expires = at;
    }
    Some(cookie)
}

/// `Wed, 21 Oct 2026 07:28:00 GMT` (RFC 7231 IMF-fixdate, also with `-` between the date
/// fields) as Unix seconds.
fn http_date(value: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let rest = value.split_once(',').map_or(value, |(_, r)| r).trim();
    let fields: Vec<&str> = rest.split([' ', '-']).filter(|f| !f.is_empty()).collect();
    let [day, month, year, time, ..] = fields[..] else {
        return None;
    };
    let month = MONTHS.iter().position(|m| month.eq_ignore_ascii_case(m))? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|f| f.parse::<i64>().ok());
    let (Some(Some(h)), Some(Some(m)), Some(Some(s))) = (hms.next(), hms.next(), hms.next()) else {
        return None;
    };
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    #[test]
    fn vercels_cookie_becomes_a_host_only_storage_state_cookie() {
        let cookie = parse(
            "_vercel_jwt=eyJ.abc.def; Path=/; Domain=.vercel.app; Max-Age=3600; Secure; HttpOnly; SameSite=None",
            "app-git-x.vercel.app",
            true,
            NOW,
        )
        .unwrap();
        assert_eq!(cookie.name, "_vercel_jwt");
        assert_eq!(cookie.value, "eyJ.abc.def");
        assert_eq!(cookie.domain, "app-git-x.vercel.app");
        assert_eq!((cookie.path.as_str(), cookie.expires), ("/", NOW + 3600));
        assert!(cookie.http_only && cookie.secure);
        assert_eq!(cookie.same_site, "None");
        let json = serde_json::to_value(&cookie).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "_vercel_jwt", "value": "eyJ.abc.def",
                "domain": "app-git-x.vercel.app", "path": "/", "expires": NOW + 3600,
                "httpOnly": true, "secure": true, "sameSite": "None"})
        );
        assert!(
            !format!("{cookie:?}").contains("abc"),
            "Debug hides the value"
        );
    }

    #[test]
    fn dates_session_cookies_and_defaults() {
        let dated = parse(
            "b=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT",
            "h",
            false,
            NOW,
        )
        .unwrap();
        assert_eq!(dated.expires, 1_792_567_680);
        assert_eq!(dated.same_site, "Lax");
        assert!(!dated.secure && !dated.http_only);
        let session = parse("b=1; Path=/x", "h", true, NOW).unwrap();
        assert_eq!((session.expires, session.path.as_str()), (-1, "/x"));
        assert!(session.secure, "an https origin's cookie is secure");
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn malformed_or_deleting_cookies_are_dropped() {
        for header in [
            "novalue",
            "=x",
            "a b=c",
            "a=",
            "a=1; Max-Age=0",
            "a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "a=x\u{1b}y",
        ] {
            assert!(parse(header, "h", true, NOW).is_none(), "{header}");
        }
    }
}
