//! A Moodle in the test process: answers recorded from a real Moodle 4.5.6 served
//! back over HTTP, the recording proxy that records them from the harness, and the
//! harness's own helpers (web-service calls, its database) for opt-in live tests.
//! `verify.rs` and `webservice.rs` both use it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::util::{enrolgen, repo, Out};

/// The token the replayed Moodle accepts; any other gets the recorded
/// `invalidtoken` answer.
pub(crate) const TOKEN: &str = "5e1f0c2a9b8d7e6f5e1f0c2a9b8d7e6f";

pub(crate) fn fixtures(name: &str) -> PathBuf {
    repo().join("tests/fixtures/moodle").join(name)
}

/// A fixture's answers by call, in the order they were recorded: a call made
/// again gets the next answer, and the last one once they are used up.
fn load(name: &str) -> BTreeMap<String, std::collections::VecDeque<String>> {
    let mut out: BTreeMap<String, std::collections::VecDeque<String>> = BTreeMap::new();
    for (k, body) in recorded(&fixtures(name).join("answers.jsonl")) {
        out.entry(k).or_default().push_back(body);
    }
    out
}

/// Serves `name`'s recorded answers on a free loopback port; returns the site URL.
/// The server lives as long as the test process (one connection at a time).
pub(crate) fn replay(name: &str) -> String {
    serve(load(name))
}

/// Serves `name`'s recorded answers, each body changed by `change(key, body)`: a
/// Moodle that answers as no real one can be made to (a report of the wrong shape,
/// a filter changed by somebody else between two calls).
pub(crate) fn replay_changed(name: &str, change: impl Fn(&str, usize, &str) -> String) -> String {
    let mut answers = load(name);
    for (k, q) in answers.iter_mut() {
        for (i, body) in q.iter_mut().enumerate() {
            *body = change(k, i, body);
        }
    }
    serve(answers)
}

fn serve(answers: BTreeMap<String, std::collections::VecDeque<String>>) -> String {
    let mut answers = answers;
    let invalid = load("errors")
        .into_values()
        .next()
        .and_then(|mut q| q.pop_front())
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (token, function, params) = read_request(&mut stream);
            let (status, answer) = if token != TOKEN {
                (200, invalid.clone())
            } else {
                let next = answers.get_mut(&key(&function, &params)).and_then(|q| {
                    if q.len() > 1 {
                        q.pop_front()
                    } else {
                        q.front().cloned()
                    }
                });
                match next {
                    Some(a) => (200, a),
                    None => (
                        500,
                        format!("no recorded answer for {}", key(&function, &params)),
                    ),
                }
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    url
}

/// A recorded answer's key: the function and its parameters, sorted.
pub(crate) fn key(function: &str, params: &BTreeMap<String, String>) -> String {
    let p: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{function}?{}", p.join("&"))
}

/// A file of recorded answers, in order: each answer's key and body.
pub(crate) fn recorded(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let params: BTreeMap<String, String> = v["params"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            (
                key(v["function"].as_str().unwrap(), &params),
                v["body"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub(crate) fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Reads one web-service request: its token, its function and its other parameters.
pub(crate) fn read_request(
    stream: &mut std::net::TcpStream,
) -> (String, String, BTreeMap<String, String>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0;
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let mut params: BTreeMap<String, String> = String::from_utf8_lossy(&body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    let token = params.remove("wstoken").unwrap_or_default();
    let function = params.remove("wsfunction").unwrap_or_default();
    params.remove("moodlewsrestformat");
    (token, function, params)
}

/// A proxy on a free loopback port that forwards every web-service call to
/// `upstream` (a real Moodle) and appends the call and Moodle's answer to `file`, one
/// JSON line each (`function`, `params`, never the token, `body`): how every fixture
/// of Moodle's answers is recorded.
pub(crate) fn recording_proxy(upstream: &str, file: &Path) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let upstream = upstream.to_string();
    let out = std::sync::Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .unwrap(),
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (token, function, params) = read_request(&mut stream);
            let body = forward(&upstream, &token, &function, &params);
            record(&out, &function, &params, &body);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// One call to a real Moodle, as enrolgen sends it; Moodle's answer.
pub(crate) fn forward(
    url: &str,
    token: &str,
    function: &str,
    params: &BTreeMap<String, String>,
) -> String {
    let mut form: Vec<(&str, &str)> = vec![
        ("wstoken", token),
        ("wsfunction", function),
        ("moodlewsrestformat", "json"),
    ];
    form.extend(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    ureq::post(format!("{url}/webservice/rest/server.php"))
        .send_form(form)
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// Appends one recorded call to a fixture file.
pub(crate) fn record(
    out: &std::sync::Mutex<std::fs::File>,
    function: &str,
    params: &BTreeMap<String, String>,
    body: &str,
) {
    let line = serde_json::json!({"function": function, "params": params, "body": body});
    let mut f = out.lock().unwrap();
    writeln!(f, "{line}").unwrap();
}

/// One web-service call on the live Moodle (the test's own changes).
pub(crate) fn ws(
    url: &str,
    token: &str,
    function: &str,
    params: &[(&str, String)],
) -> serde_json::Value {
    let mut form: Vec<(&str, String)> = vec![
        ("wstoken", token.to_string()),
        ("wsfunction", function.to_string()),
        ("moodlewsrestformat", "json".to_string()),
    ];
    form.extend(params.iter().cloned());
    let mut r = ureq::post(format!("{url}/webservice/rest/server.php"))
        .send_form(form)
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert!(v.get("exception").is_none(), "{function}: {v}");
    v
}

/// A query on the harness's database (its private PostgreSQL).
pub(crate) fn psql(sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .env("PGPASSWORD", "moodle")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            "5433",
            "-U",
            "moodle",
            "moodle",
            "-Atc",
            sql,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{sql}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Adds these functions to the harness's `enrolgen` service, or takes them out
/// (`ws-setup.sh` puts the service back as it was).
pub(crate) fn service_functions(add: bool, functions: &[&str]) {
    let service = "(select id from mdl_external_services where shortname = 'enrolgen')";
    for f in functions {
        psql(&if add {
            format!(
                "insert into mdl_external_services_functions (externalserviceid, functionname) \
                 values ({service}, '{f}')"
            )
        } else {
            format!(
                "delete from mdl_external_services_functions \
                 where functionname = '{f}' and externalserviceid = {service}"
            )
        });
    }
}

/// The token may read the site's custom reports: these functions in its service,
/// `moodle/reportbuilder:viewall` on its role, the caches purged.
pub(crate) fn reports_readable(harness: &Path, functions: &[&str]) {
    service_functions(true, functions);
    psql(
        "insert into mdl_role_capabilities (contextid, roleid, capability, permission, timemodified, modifierid) \
         select 1, id, 'moodle/reportbuilder:viewall', 1, 0, 2 from mdl_role where shortname = 'enrolgenws'",
    );
    in_harness(
        harness,
        ". lib/env.sh && $PHP $MOODLE_DIR/admin/cli/purge_caches.php",
    );
}

/// Runs enrolgen; with `record` (and recording asked), its Moodle answers go into
/// tests/fixtures/moodle/<record>/answers.jsonl, replacing what was there: the
/// configuration is pointed at a recording proxy in front of the real Moodle.
pub(crate) fn with_recording(dir: &Path, args: &[&str], record: Option<&str>) -> Out {
    let recording = std::env::var("ENROLGEN_TEST_MOODLE_RECORD").ok().as_deref() == Some("1");
    let Some(name) = record.filter(|_| recording) else {
        return enrolgen(dir, args);
    };
    let to = fixtures(name);
    std::fs::create_dir_all(&to).unwrap();
    let file = to.join("answers.jsonl");
    let _ = std::fs::remove_file(&file);
    let at = args.iter().position(|a| *a == "-c").unwrap() + 1;
    let cfg = Path::new(args[at]);
    let text = std::fs::read_to_string(cfg).unwrap();
    let upstream = text
        .split("url: \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let proxy = recording_proxy(&upstream, &file);
    let recorded_cfg = cfg.with_file_name("recording.yaml");
    std::fs::write(&recorded_cfg, text.replace(&upstream, &proxy)).unwrap();
    // The proxy stands for the site: a web-service state names the site, so it is
    // pointed at the proxy for the run, and back after it.
    let out_dir = args
        .iter()
        .position(|a| *a == "--out")
        .map(|i| dir.join(args[i + 1]));
    let point = |from: &str, to: &str| {
        let folders = out_dir.iter().filter_map(|o| std::fs::read_dir(o).ok());
        for e in folders.flatten() {
            let p = e.unwrap().path().join("webservice-state.json");
            if let Ok(t) = std::fs::read_to_string(&p) {
                std::fs::write(&p, t.replace(from, to)).unwrap();
            }
        }
    };
    point(&upstream, &proxy);
    let mut args: Vec<&str> = args.to_vec();
    let path = recorded_cfg.to_str().unwrap().to_string();
    args[at] = &path;
    let out = enrolgen(dir, &args);
    point(&proxy, &upstream);
    out
}

/// Runs a shell script in the harness's folder (its `lib/env.sh` at hand); it must
/// succeed.
pub(crate) fn in_harness(harness: &Path, script: &str) {
    let ok = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(harness)
        .status()
        .unwrap()
        .success();
    assert!(ok, "{script}");
}

/// The harness, when recording is asked (ENROLGEN_TEST_MOODLE_RECORD=1 and
/// ENROLGEN_TEST_MOODLE_HARNESS, _URL, _TOKEN_FILE): reset to a site holding `world`
/// (setup_fixtures.php's users and courses), then `scripts` run in the harness's
/// folder, then the token set up. Its URL and token; `None` when not recording.
pub(crate) fn live_site(
    dir: &Path,
    world: &serde_json::Value,
    scripts: &[String],
) -> Option<(String, String)> {
    if std::env::var("ENROLGEN_TEST_MOODLE_RECORD").ok().as_deref() != Some("1") {
        return None;
    }
    let harness = PathBuf::from(std::env::var_os("ENROLGEN_TEST_MOODLE_HARNESS")?);
    let url = std::env::var("ENROLGEN_TEST_MOODLE_URL").ok()?;
    let token_file = std::env::var_os("ENROLGEN_TEST_MOODLE_TOKEN_FILE")?;
    let world_file = dir.join("world.json");
    std::fs::write(&world_file, world.to_string()).unwrap();
    let setup = [
        "./reset.sh >/dev/null".to_string(),
        format!(
            ". lib/env.sh && $PHP lib/setup_fixtures.php {} >/dev/null",
            world_file.display()
        ),
    ];
    let token_setup = ["./ws-setup.sh --quiet >/dev/null".to_string()];
    for script in setup.iter().chain(scripts).chain(&token_setup) {
        in_harness(&harness, script);
    }
    let token = std::fs::read_to_string(token_file)
        .unwrap()
        .trim()
        .to_string();
    Some((url, token))
}

/// Points a web-service state at `url`: each replayed site (one per recorded
/// night) has its own address, which the state's guard compares.
pub(crate) fn same_site(state: &Path, url: &str) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state).unwrap()).unwrap();
    v["site"] = serde_json::json!(url);
    std::fs::write(state, v.to_string()).unwrap();
}
