//! The Redis replay store over TLS (`rediss://`) against a real `redis-server` serving TLS only,
//! with a certificate from a CA made for the test: accepted with that CA added, refused with the
//! embedded roots alone (the certificate is verified, not merely encrypted), and a CA file with a
//! plain `redis://` URL refused as a configuration mistake.

use ci_endpoint::server::replay::{Recorded, ReplayError, ReplayKey, ReplayStore};
use ci_fixtures::redis::{RedisServer, own_redis_or_skip};
use ci_oidc::{SecretString, unix_now};

#[tokio::test]
async fn rediss_with_the_servers_ca_records_once() {
    let Some(redis) = RedisServer::start_tls() else {
        let _ = own_redis_or_skip("rediss_with_the_servers_ca_records_once");
        return;
    };
    let url = SecretString::new(redis.url());
    assert!(url.expose_secret().starts_with("rediss://"));
    let ca = redis.ca_pem().unwrap().as_bytes();
    let store = ReplayStore::redis_with_ca(&url, Some(ca)).unwrap();
    store.ping().await.unwrap();
    let key = ReplayKey::new("https://issuer", "https://ci.test/tls", "jti");
    let now = unix_now();
    assert_eq!(store.record(&key, now + 60, now).await, Ok(Recorded::First));
    assert_eq!(
        store.record(&key, now + 60, now).await,
        Ok(Recorded::Replay)
    );
}

#[tokio::test]
async fn rediss_with_an_unknown_ca_is_refused() {
    let Some(redis) = RedisServer::start_tls() else {
        let _ = own_redis_or_skip("rediss_with_an_unknown_ca_is_refused");
        return;
    };
    let url = SecretString::new(redis.url());
    let store = ReplayStore::redis(&url).unwrap();
    let error = store.ping().await.unwrap_err();
    eprintln!("unknown CA: {error}");
    assert!(
        matches!(error, ReplayError::Unavailable(_) | ReplayError::Timeout(_)),
        "{error:?}"
    );
    // Nor does the library's `#insecure` switch turn verification off.
    let insecure = SecretString::new(format!("{}#insecure", redis.url()));
    let outcome = match ReplayStore::redis(&insecure) {
        Ok(store) => store.ping().await,
        Err(error) => Err(error),
    };
    eprintln!("#insecure: {outcome:?}");
    assert!(outcome.is_err(), "{outcome:?}");
}

#[tokio::test]
async fn a_ca_file_with_a_plain_url_is_a_configuration_error() {
    let url = SecretString::new("redis://:pw-77@127.0.0.1:6379/");
    let ca = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let error = ReplayStore::redis_with_ca(&url, Some(ca)).unwrap_err();
    assert!(matches!(error, ReplayError::Config(_)), "{error:?}");
    assert!(error.to_string().contains("rediss://"), "{error}");
    assert!(!error.to_string().contains("pw-77"), "{error}");
    // Not PEM at all.
    let tls = SecretString::new("rediss://127.0.0.1:6379/");
    let error = ReplayStore::redis_with_ca(&tls, Some(b"junk")).unwrap_err();
    assert!(matches!(error, ReplayError::Config(_)), "{error:?}");
}
