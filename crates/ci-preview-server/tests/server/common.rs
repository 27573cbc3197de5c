//! Running the locally built `ci-preview-server:local` image for the container suite.
//!
//! The gate in front of every test exists so the suite can never pass silently: with no Docker
//! engine each test says on the terminal (past cargo's output capture) that it skipped, and
//! `CI_PREVIEW_REQUIRE_DOCKER=1` turns that into a failure; an engine without the image is a
//! failure too, never a pull (no registry is reachable, and a pulled image would not be ours).
//!
//! Containers use the host's network (the engine here runs with `--bridge=none`): the server
//! shares the host loopback, so it reaches the mock issuer in the test process at 127.0.0.1 and
//! listens on a port of its own chosen by the test. The policy is copied into the container
//! rather than bind-mounted, so no host folder has to be readable by the image's user.

use std::{
    io::Write,
    process::{Command, Stdio},
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use testcontainers::{
    ContainerAsync, ContainerRequest, CopyTargetOptions, GenericImage, ImageExt,
    core::{
        logs::LogFrame,
        wait::{ExitWaitStrategy, WaitFor},
    },
    runners::AsyncRunner,
};

pub(crate) const IMAGE: &str = "ci-preview-server:local";
/// Where the policy is copied in the container.
pub(crate) const POLICY_PATH: &str = "/etc/ci-preview/ci-policy.toml";
/// Part of the server's single stdout line, printed once keys are loaded and the socket accepts.
pub(crate) const READY: &str = "listening on";

/// Proof that an engine answers and the image is there; only [`docker`] makes one.
#[derive(Debug)]
pub(crate) struct Docker(());

/// The gate: `Some` when the test can run, `None` (said plainly) when it must skip.
pub(crate) fn docker(test: &str) -> Option<Docker> {
    static ENGINE: OnceLock<bool> = OnceLock::new();
    let answers =
        *ENGINE.get_or_init(|| quiet_success(&["info", "--format", "{{.ServerVersion}}"]));
    if !answers {
        let required = std::env::var("CI_PREVIEW_REQUIRE_DOCKER").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "CI_PREVIEW_REQUIRE_DOCKER=1 but no Docker engine answers (`docker info` failed)"
        );
        // Straight to the terminal: cargo test hides a passing test's eprintln! output.
        let _ = writeln!(
            std::io::stderr().lock(),
            "container suite: SKIPPED {test}: no Docker engine answers (`docker info` failed); \
             set CI_PREVIEW_REQUIRE_DOCKER=1 to make this a failure"
        );
        return None;
    }
    assert!(
        quiet_success(&["image", "inspect", "--format", "{{.Id}}", IMAGE]),
        "image {IMAGE} is missing: run `cargo xtask image` first (the suite never pulls)"
    );
    Some(Docker(()))
}

fn quiet_success(args: &[&str]) -> bool {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `docker ARGS`, which must succeed; its stdout, trimmed.
pub(crate) fn docker_cli(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A port the OS just handed out on 127.0.0.1 (released again for the container to take).
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Everything a container wrote, in arrival order (for failure messages while it runs).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<String>>);

impl Logs {
    fn consumer(&self) -> impl Fn(&LogFrame) + Send + Sync + 'static {
        let sink = self.0.clone();
        move |frame: &LogFrame| {
            let bytes = match frame {
                LogFrame::StdOut(b) | LogFrame::StdErr(b) => b,
            };
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(bytes));
        }
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

/// A server container that printed its ready line.
pub(crate) struct Server {
    container: ContainerAsync<GenericImage>,
    pub base: String,
    /// From asking the engine to create the container to the ready line.
    pub ready_in: Duration,
}

/// How a container ended.
#[derive(Debug)]
pub(crate) struct Exit {
    pub code: i64,
    /// Time from `docker stop` to exit (zero when it exited by itself).
    pub stop_took: Duration,
    pub stdout: String,
    pub stderr: String,
}

impl Docker {
    fn request(
        &self,
        wait: WaitFor,
        policy: &str,
        env: &[(&str, &str)],
        port: u16,
        logs: &Logs,
    ) -> ContainerRequest<GenericImage> {
        let (name, tag) = IMAGE.split_once(':').unwrap();
        let mut request = GenericImage::new(name, tag)
            .with_wait_for(wait)
            .with_network("host")
            .with_cmd(["--policy", POLICY_PATH])
            .with_copy_to(
                CopyTargetOptions::new(POLICY_PATH).with_mode(0o444),
                policy.as_bytes().to_vec(),
            )
            .with_env_var("CI_PREVIEW_LISTEN", format!("127.0.0.1:{port}"))
            .with_startup_timeout(Duration::from_secs(30))
            .with_log_consumer(logs.consumer());
        for (key, value) in env {
            request = request.with_env_var(*key, *value);
        }
        request
    }

    /// Starts the image and waits for its ready line; panics with its logs if it never comes.
    pub(crate) async fn start(&self, policy: &str, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let logs = Logs::default();
        let request = self.request(WaitFor::message_on_stdout(READY), policy, env, port, &logs);
        let started = Instant::now();
        let container = match request.start().await {
            Ok(container) => container,
            Err(error) => {
                // Let the log stream catch up with a container that exited.
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!("container did not get ready: {error}\n{}", logs.text())
            }
        };
        let ready_in = started.elapsed();
        Server {
            container,
            base: format!("http://127.0.0.1:{port}"),
            ready_in,
        }
    }

    /// Starts the image expecting it to exit on its own; its exit code and output.
    pub(crate) async fn run_to_exit(&self, policy: &str, env: &[(&str, &str)]) -> Exit {
        let logs = Logs::default();
        let wait =
            WaitFor::exit(ExitWaitStrategy::new().with_poll_interval(Duration::from_millis(50)));
        let request = self.request(wait, policy, env, free_port(), &logs);
        let container = request
            .start()
            .await
            .unwrap_or_else(|e| panic!("container did not run to its end: {e}\n{}", logs.text()));
        finish(container, Duration::ZERO).await
    }
}

async fn finish(container: ContainerAsync<GenericImage>, stop_took: Duration) -> Exit {
    let code = container
        .exit_code()
        .await
        .unwrap()
        .expect("the container has exited");
    let stdout = String::from_utf8_lossy(&container.stdout_to_vec().await.unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&container.stderr_to_vec().await.unwrap()).into_owned();
    container.rm().await.unwrap();
    Exit {
        code,
        stop_took,
        stdout,
        stderr,
    }
}

impl Server {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn id(&self) -> &str {
        self.container.id()
    }

    /// `docker stop` (SIGTERM, SIGKILL after 5 s) and the result; the container is removed.
    pub(crate) async fn stop(self) -> Exit {
        let sent = Instant::now();
        self.container.stop_with_timeout(Some(5)).await.unwrap();
        let took = sent.elapsed();
        finish(self.container, took).await
    }

    /// Stops the server and checks the shutdown was the graceful one: exit 0 within 2 s, after
    /// the server logged the signal. Returns everything it wrote.
    pub(crate) async fn stop_gracefully(self) -> Exit {
        let exit = self.stop().await;
        assert_eq!(exit.code, 0, "exit code after docker stop\n{}", exit.stderr);
        assert!(
            exit.stop_took < Duration::from_secs(2),
            "docker stop took {:?}",
            exit.stop_took
        );
        assert!(exit.stderr.contains("SIGTERM received"), "{}", exit.stderr);
        assert_eq!(
            exit.stdout.lines().count(),
            1,
            "stdout holds only the ready line: {}",
            exit.stdout
        );
        exit
    }
}
