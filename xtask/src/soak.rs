//! `cargo xtask soak [--seconds N] [--workers N] [--no-build]`: the server at saturation while
//! its issuer misbehaves. A benchmark with pass/fail criteria, not a test: it needs minutes of
//! CPU and reports figures.
//!
//! The release server runs as a real process against an in-process mock issuer, fetching keys
//! through discovery (a remote key store, so JWKS faults reach it). For N seconds (default 60)
//! mixed workers send valid calls interleaved with the attack set, flood workers send tokens
//! with invented `kid`s, the issuer's JWKS cycles through healthy, 500/503, slow (under and
//! over the server's 5 s fetch timeout), garbage and empty answers, and halfway through the
//! issuer rotates to a new signing key during a 500 phase. The server is started with a 2 s
//! unknown-kid refetch cooldown (60 s in production) so the flood turns into a fetch every
//! couple of seconds and the rotation can be picked up within the run.
//!
//! Passes when: no valid call failed; every attack got exactly its contract answer; the new key
//! was accepted before the end; RSS at the end is under 10 % above RSS at 10 s; the server
//! logged no token or cookie and stopped cleanly on SIGTERM.

mod report;
mod server;
mod traffic;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ci_fixtures::keys::{FIRST_ROTATION_KEY, shared_key};
use ci_fixtures::{JwksFault, MockIssuer};
use encrypt_override::FlagsSecret;
use xshell::{Shell, cmd};

use crate::flags::{self, Result, failed, usage};
use report::Report;
use traffic::{Kind, Shared, Tally};

/// Unknown-kid refetch cooldown the server runs with, in seconds.
const COOLDOWN_SECS: u64 = 2;
/// How long each JWKS phase lasts.
const PHASE: Duration = Duration::from_secs(2);
/// The issuer's JWKS behaviour, phase after phase (`Slow` past 5 s exceeds the server's timeout).
const PHASES: [JwksFault; 8] = [
    JwksFault::None,
    JwksFault::Status(500),
    JwksFault::Slow(Duration::from_millis(1500)),
    JwksFault::Garbage,
    JwksFault::Slow(Duration::from_secs(7)),
    JwksFault::Empty,
    JwksFault::Status(503),
    JwksFault::None,
];
/// Valid calls per round of the mixed workers' schedule (then one of each attack).
const VALID_PER_ROUND: usize = 10;
/// The `FLAGS_SECRET` of the soak server (test material).
const SECRET: [u8; 32] = *b"ci-in-preview soak flags secret!";

struct Options {
    seconds: u64,
    workers: usize,
    build: bool,
}

pub(crate) fn run(args: &flags::Soak) -> Result {
    let build = !args.no_build;
    let (seconds, workers) = (args.seconds, args.workers);
    if seconds < 20 || workers < 4 {
        return Err(usage("soak needs --seconds >= 20 and --workers >= 4"));
    }
    let opts = Options {
        seconds,
        workers: usize::try_from(workers).map_err(|_| usage("--workers: too large"))?,
        build,
    };
    let sh = Shell::new()?;
    sh.change_dir(crate::project_root());
    if opts.build {
        eprintln!("==> building ci-preview-server (release)");
        cmd!(
            sh,
            "cargo build --quiet --locked --release -p ci-preview-server"
        )
        .run()?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| failed(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        tokio::select! {
            outcome = soak(&opts) => outcome,
            _ = tokio::signal::ctrl_c() => Err(failed("interrupted; the server was stopped")),
        }
    })
}

async fn soak(opts: &Options) -> Result {
    let issuer = MockIssuer::start().await;
    let url = issuer.issuer_url();
    let old_key = issuer.signing_key();
    eprintln!("==> minting tokens");
    let (new_key, tokens) = {
        let (url, old_key) = (url.clone(), Arc::clone(&old_key));
        tokio::task::spawn_blocking(move || {
            let new_key = shared_key(FIRST_ROTATION_KEY);
            let tokens = traffic::mint(&url, &old_key, &new_key);
            (new_key, tokens)
        })
        .await
        .map_err(|e| failed(format!("minting tokens: {e}")))?
    };

    let secret = URL_SAFE_NO_PAD.encode(SECRET);
    let server = server::Server::start(&issuer, &secret, COOLDOWN_SECS).await?;
    let shared = Arc::new(Shared {
        tokens: RwLock::new(Arc::new(tokens)),
        secret: FlagsSecret::parse(&secret).map_err(|e| failed(e.to_string()))?,
        new_key_live: AtomicBool::new(false),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| failed(format!("http client: {e}")))?,
        url: server.url.clone(),
    });
    if traffic::send(&shared, Kind::Valid, 0).await.1.is_err() {
        return Err(failed(format!(
            "the warm-up call failed; server output:\n{}",
            server.log_tail()
        )));
    }

    eprintln!(
        "==> {} s at saturation: {} mixed workers, {} flood workers",
        opts.seconds,
        opts.workers,
        opts.workers / 4
    );
    let cpu_at_start = server.cpu_secs();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(opts.seconds);
    let mut mixed = vec![Kind::Valid; VALID_PER_ROUND];
    mixed.extend(Kind::MIXED_ATTACKS);
    let mut workers = Vec::new();
    for id in 0..opts.workers {
        let schedule = mixed.clone();
        workers.push(tokio::spawn(traffic::worker(
            Arc::clone(&shared),
            schedule,
            id,
            deadline,
        )));
    }
    for id in 0..opts.workers / 4 {
        let schedule = vec![Kind::UnknownKid];
        workers.push(tokio::spawn(traffic::worker(
            Arc::clone(&shared),
            schedule,
            id,
            deadline,
        )));
    }
    let refresher = tokio::spawn(refresh_tokens(
        Arc::clone(&shared),
        url.clone(),
        Arc::clone(&old_key),
        Arc::clone(&new_key),
    ));
    let rotation = flap_and_rotate(&issuer, start, deadline, &shared);
    let rss_10s = async {
        tokio::time::sleep_until((start + Duration::from_secs(10)).into()).await;
        server.rss_kib()
    };
    let ((rotated_at, picked_up_at, probes_refused), rss_10s) = tokio::join!(rotation, rss_10s);

    let mut tally = Tally::new();
    for worker in workers {
        let part = worker.await.map_err(|e| failed(format!("worker: {e}")))?;
        for (kind, count) in part {
            tally.entry(kind).or_default().merge(&count);
        }
    }
    refresher.abort();
    let elapsed = start.elapsed();
    let rss_end = server.rss_kib();
    let rss_peak = server.status_kib("VmHWM");
    let server_cpu = server
        .cpu_secs()
        .zip(cpu_at_start)
        .map(|(end, start)| end - start);
    let rotated_kid = issuer.signing_key().kid().to_owned();
    let stopped = server.stop().await;
    let report = Report {
        seconds: elapsed.as_secs_f64(),
        workers: opts.workers,
        cooldown: COOLDOWN_SECS,
        tally,
        rotation: rotated_at.map(|at| (at - start, picked_up_at.map(|p| p - at), probes_refused)),
        rotated_to_new_key: rotated_kid == new_key.kid(),
        jwks_requests: issuer.jwks_requests(),
        discovery_requests: issuer.discovery_requests(),
        fetch_failures: stopped.fetch_failures,
        rss: (rss_10s, rss_end, rss_peak),
        server_cpu,
        log_leaks: stopped.leaks,
        clean_exit: stopped.clean_exit,
    };
    report.print();
    match report.failures() {
        failures if failures.is_empty() => Ok(()),
        failures => Err(failed(format!("soak failed: {}", failures.join("; ")))),
    }
}

/// Cycles the JWKS through [`PHASES`] until `deadline`, rotating the signing key at the start of
/// the first 500 phase past half-time. Returns when it rotated and when the server accepted the
/// new key (with the probes refused before).
async fn flap_and_rotate(
    issuer: &MockIssuer,
    start: Instant,
    deadline: Instant,
    shared: &Arc<Shared>,
) -> (Option<Instant>, Option<Instant>, u64) {
    let half = start + (deadline - start) / 2;
    let mut rotated = None;
    let mut probe = None;
    let mut phase_start = start;
    for phase in PHASES.iter().cycle() {
        if phase_start >= deadline {
            break;
        }
        issuer.set_fault(phase.clone());
        if rotated.is_none() && phase_start >= half && *phase == JwksFault::Status(500) {
            issuer.rotate();
            rotated = Some(Instant::now());
            probe = Some(tokio::spawn(traffic::probe_new_key(
                Arc::clone(shared),
                deadline,
            )));
        }
        phase_start += PHASE;
        tokio::time::sleep_until(phase_start.min(deadline).into()).await;
    }
    issuer.set_fault(JwksFault::None);
    let (picked_up, refused) = match probe {
        Some(probe) => probe.await.unwrap_or((None, 0)),
        None => (None, 0),
    };
    (rotated, picked_up, refused)
}

/// Replaces the tokens every two minutes, well inside their 300 s lifetime.
async fn refresh_tokens(
    shared: Arc<Shared>,
    issuer: String,
    old: Arc<ci_fixtures::TestKey>,
    new: Arc<ci_fixtures::TestKey>,
) {
    loop {
        tokio::time::sleep(Duration::from_secs(120)).await;
        let (issuer, old, new) = (issuer.clone(), Arc::clone(&old), Arc::clone(&new));
        if let Ok(tokens) =
            tokio::task::spawn_blocking(move || traffic::mint(&issuer, &old, &new)).await
        {
            *shared.tokens.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(tokens);
        }
    }
}
