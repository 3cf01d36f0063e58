//! `scripts/new-service.sh` on a scratch copy of what it reads (the workspace manifest,
//! proto/src/lib.rs, the skeleton and its proto): the copy it makes carries no trace of the
//! template and is wired into the workspace and crm-proto. (That the skeleton itself compiles
//! and works is what the other tests of this crate show.)
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().expect("type").is_dir() {
            if entry.file_name() != "target" {
                copy_dir(&src, &dst);
            }
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// A scratch tree with just what the script reads.
fn scratch() -> PathBuf {
    let root = std::env::temp_dir()
        .join("crm-tests")
        .join(crm_platform::testing::random_prefix());
    let ws = workspace();
    for file in ["Cargo.toml", "proto/src/lib.rs", "scripts/new-service.sh"] {
        let dst = root.join(file);
        std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
        std::fs::copy(ws.join(file), dst).expect("copy");
    }
    for dir in ["proto/crm/template", "services/_template"] {
        copy_dir(&ws.join(dir), &root.join(dir));
    }
    root
}

fn new_service(root: &Path, args: &[&str]) -> Output {
    Command::new("bash")
        .arg(root.join("scripts/new-service.sh"))
        .args(args)
        .output()
        .expect("bash runs")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every path under `dir` (files and directories).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        out.push(path.clone());
        if path.is_dir() {
            walk(&path, out);
        }
    }
}

#[test]
fn the_script_makes_a_renamed_copy_wired_into_the_workspace() {
    let root = scratch();
    let out = new_service(&root, &["giftcards", "GiftCard"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "services/suite/src/main.rs",
        "services/suite/tests/common/mod.rs",
        "healthService: crm.giftcards.v1.GiftCardService",
    ] {
        assert!(
            stdout.contains(step),
            "the steps left name {step:?}:\n{stdout}"
        );
    }

    let mut copied = Vec::new();
    walk(&root.join("services/giftcards"), &mut copied);
    walk(&root.join("proto/crm/giftcards"), &mut copied);
    assert!(copied.len() > 15, "{copied:?}");
    let tests = root.join("services/giftcards/tests");
    assert!(tests.join("api/main.rs").exists() && !tests.join("new_service.rs").exists());
    for path in &copied {
        let shown = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        assert!(!shown.to_lowercase().contains("template"), "{shown}");
        if path.is_file() {
            let text = read(path).to_lowercase();
            assert!(!text.contains("template"), "{shown} still says template");
        }
    }
    let lib = read(&root.join("services/giftcards/src/lib.rs"));
    for wanted in [
        "pub struct Giftcards;",
        "\"crm.giftcards.v1.GiftCardService\"",
        "type UseCases = GiftCardService;",
        "grpc::{GiftcardsGrpc, GiftCardServiceServer}",
    ] {
        assert!(lib.contains(wanted), "lib.rs lacks {wanted:?}");
    }
    let grpc = read(&root.join("services/giftcards/src/grpc/mod.rs"));
    assert!(grpc.contains("pb::gift_card_service_server::GiftCardService for GiftcardsGrpc"));
    assert!(read(&root.join("services/giftcards/Cargo.toml")).contains("name = \"crm-giftcards\""));
    let config = read(&root.join("services/giftcards/config/giftcards.toml"));
    assert!(config.contains("\n[giftcards]\n") && config.contains("CRM_GIFTCARDS__"));
    let proto = read(&root.join("proto/crm/giftcards/v1/gift_card_service.proto"));
    assert!(
        proto.contains("package crm.giftcards.v1;") && proto.contains("service GiftCardService {")
    );
    assert!(
        !proto.contains("skeleton"),
        "the template-only lines are gone"
    );

    let manifest = read(&root.join("Cargo.toml"));
    let members = manifest
        .lines()
        .find(|l| l.starts_with("members = "))
        .expect("members");
    assert!(
        members.contains("\"services/_template\", \"services/giftcards\""),
        "{members}"
    );
    assert!(manifest.contains("\ncrm-giftcards = { path = \"services/giftcards\" }\n"));
    let proto_lib = read(&root.join("proto/src/lib.rs"));
    assert!(proto_lib.contains("tonic::include_proto!(\"crm.giftcards.v1\");"));
    assert!(proto_lib.contains("\npub use crm::giftcards::v1 as giftcards;\n"));
    assert!(
        proto_lib.contains("tonic::include_proto!(\"crm.template.v1\");"),
        "the template stays"
    );

    // A second run, or a bad name, changes nothing.
    let refused: &[&[&str]] = &[
        &["giftcards"],
        &["Giftcards"],
        &["gift-cards"],
        &["template"],
        &[""],
        &["coupons", "coupon"],
        &[],
    ];
    for args in refused {
        let out = new_service(&root, args);
        assert!(!out.status.success(), "{args:?} was accepted");
    }
    assert!(!root.join("services/coupons").exists());
    assert_eq!(read(&root.join("Cargo.toml")), manifest);
    assert_eq!(read(&root.join("proto/src/lib.rs")), proto_lib);
    std::fs::remove_dir_all(&root).ok();
}
