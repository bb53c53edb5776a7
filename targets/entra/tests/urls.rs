//! The client secret goes only to an https sign-in host, or to this machine (issue 24:
//! `login_url = "http://127.0.0.1@192.0.2.2:18081"` passed a prefix check and sent the
//! secret in clear to 192.0.2.2).

#![allow(clippy::unwrap_used)]

mod support;

use picday_core::ErrorKind;
use picday_target_entra::EntraTarget;

#[test]
fn plain_http_off_this_machine_is_refused_before_any_request() {
    let here = "http://127.0.0.1:9";
    assert!(EntraTarget::from_spec(&support::spec(here, here, &[])).is_ok());
    assert!(EntraTarget::from_spec(&support::spec("http://localhost:9", here, &[])).is_ok());
    for (login, graph, key) in [
        ("http://127.0.0.1@192.0.2.2:18081", here, "login_url"),
        ("http://192.0.2.2:18081", here, "login_url"),
        (here, "http://192.0.2.2", "graph_url"),
        (
            "https://user:pw@login.microsoftonline.com",
            here,
            "login_url",
        ),
    ] {
        let e = EntraTarget::from_spec(&support::spec(login, graph, &[])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{login} {graph}");
        assert!(e.message().contains(key), "{e}");
        assert!(!e.message().contains(support::SECRET), "{e}");
    }
}
