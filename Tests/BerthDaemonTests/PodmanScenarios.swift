import BerthTestSupport
import Testing

/// Scenarios that run `berth daemon` as a child process on real podman
/// containers of the test image.
///
/// They run one at a time, for two reasons. Several of them check timings
/// (backoff, stop grace, lease expiry) that parallel containers on a
/// two-core machine would stretch. And a daemon's orphan sweep, which runs
/// every 60 s, takes the containers of other databases on the host for
/// orphans, so a long test could lose its container to another test's daemon.
@Suite(.serialized, .enabled(if: TestImage.isPodmanAvailable, "podman is not installed"))
struct PodmanScenarios {}
