use super::status::{gpg_reason, unescape_hex};
use super::*;

const FPR: &str = "1C11E6C3477F2446C8F084838ACEF412C82A9F90";

fn good_status() -> String {
    format!(
        "[GNUPG:] PLAINTEXT 74 0 \n[GNUPG:] NEWSIG\n[GNUPG:] KEY_CONSIDERED {FPR} 0\n\
         [GNUPG:] SIG_ID KECTffs0APHPYqpZCa5Qq5gAqFc 2026-11-30 1796018486\n\
         [GNUPG:] GOODSIG 8ACEF412C82A9F90 Test Signer <t@x.invalid>\n\
         [GNUPG:] VALIDSIG {FPR} 2026-11-30 1796018486 0 4 0 1 10 01 {FPR}\n\
         [GNUPG:] TRUST_UNDEFINED 0 pgp\n"
    )
}

#[test]
fn a_good_signature() {
    assert_eq!(
        judge_signature(&good_status()),
        Ok(GoodSignature {
            signing_fingerprint: FPR.into(),
            primary_fingerprint: FPR.into(),
            user_id: "Test Signer <t@x.invalid>".into(),
        })
    );
    // A subkey signature: VALIDSIG names the primary key last.
    let sub = good_status().replacen(
        &format!("VALIDSIG {FPR}"),
        "VALIDSIG AAAABBBBCCCCDDDDEEEEFFFF0000111122223333",
        1,
    );
    let g = judge_signature(&sub).unwrap();
    assert_eq!(g.primary_fingerprint, FPR);
    assert_eq!(
        g.signing_fingerprint,
        "AAAABBBBCCCCDDDDEEEEFFFF0000111122223333"
    );
}

#[test]
fn refusals() {
    assert_eq!(judge_signature(""), Err(SignatureProblem::NoSignature));
    assert_eq!(
        judge_signature("[GNUPG:] NODATA 1\n"),
        Err(SignatureProblem::NoSignature)
    );
    // GOODSIG without VALIDSIG is not enough.
    assert_eq!(
        judge_signature("[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG 8ACEF412C82A9F90 X\n"),
        Err(SignatureProblem::NoSignature)
    );
    assert_eq!(
        judge_signature("[GNUPG:] NEWSIG\n[GNUPG:] BADSIG 8ACEF412C82A9F90 Test <t@x>\n"),
        Err(SignatureProblem::Bad("8ACEF412C82A9F90".into()))
    );
    assert_eq!(
        judge_signature(&format!(
            "[GNUPG:] NEWSIG\n[GNUPG:] ERRSIG 8ACEF412C82A9F90 1 10 01 1796018486 9 {FPR}\n[GNUPG:] NO_PUBKEY 8ACEF412C82A9F90\n"
        )),
        Err(SignatureProblem::NoPublicKey(FPR.into()))
    );
    assert_eq!(
        judge_signature(
            "[GNUPG:] NEWSIG\n[GNUPG:] ERRSIG 8ACEF412C82A9F90 1 10 01 1796018486 4 -\n"
        ),
        Err(SignatureProblem::Error(
            "8ACEF412C82A9F90".into(),
            "4".into()
        ))
    );
    for (kw, want) in [
        ("EXPSIG", SignatureProblem::Expired("K".into())),
        ("EXPKEYSIG", SignatureProblem::KeyExpired("K".into())),
        ("REVKEYSIG", SignatureProblem::KeyRevoked("K".into())),
    ] {
        assert_eq!(
            judge_signature(&format!("[GNUPG:] NEWSIG\n[GNUPG:] {kw} K uid\n")),
            Err(want)
        );
    }
    // Two signed messages in one file: refused even when both are good.
    let two = format!("{}{}", good_status(), good_status());
    assert_eq!(judge_signature(&two), Err(SignatureProblem::Several(2)));
    // A status keyword inside a user id does not count.
    assert_eq!(
        judge_signature("[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG K x [GNUPG:] VALIDSIG\n"),
        Err(SignatureProblem::NoSignature)
    );
}

#[test]
fn signing_outcomes() {
    let ok =
        format!("[GNUPG:] BEGIN_SIGNING H10\n[GNUPG:] SIG_CREATED C 1 10 01 1796018560 {FPR}\n");
    assert_eq!(judge_signing(&ok, true, "", None), Ok((FPR.into(), 1)));
    assert_eq!(
        judge_signing(
            "[GNUPG:] INV_SGNR 9 nobody@x\n[GNUPG:] FAILURE sign 17\n",
            false,
            "",
            Some("nobody@x")
        ),
        Err("key \"nobody@x\": no secret key for it in the keyring".into())
    );
    let e = judge_signing("[GNUPG:] INV_SGNR 9\n", false, "", None).unwrap_err();
    assert!(e.starts_with("no secret key to sign with"), "{e}");
    assert!(e.contains("--key"), "{e}");
    let e = judge_signing(
        "[GNUPG:] BEGIN_SIGNING H10\n[GNUPG:] FAILURE sign 67108875\n",
        false,
        "gpg: signing failed: Bad passphrase\ngpg: /tmp/hccr-x/message: clear-sign failed: Bad passphrase\n",
        None,
    )
    .unwrap_err();
    assert_eq!(
        e,
        "the default key: signing failed: Bad passphrase (the passphrase is wrong)"
    );
    let e = judge_signing(
        "[GNUPG:] PINENTRY_LAUNCHED 27068 curses 1.2.1 - xterm - - 0/0 -\n[GNUPG:] FAILURE sign 83918950\n",
        false,
        "gpg: signing failed: Inappropriate ioctl for device\n",
        Some("k"),
    )
    .unwrap_err();
    assert!(e.contains("HELM_CCR_GPG_PASSPHRASE_FILE"), "{e}");
    // gpg failing after SIG_CREATED (e.g. the output could not be written) is a failure.
    assert!(judge_signing(&ok, false, "gpg: write error\n", None).is_err());
}

#[test]
fn reasons_name_no_temporary_file() {
    assert_eq!(
        gpg_reason("gpg: keybox '/tmp/x/pubring.kbx' created\ngpg: /tmp/hccr-1/message: clear-sign failed: No secret key\n"),
        Some("clear-sign failed: No secret key".into())
    );
    assert_eq!(gpg_reason(""), None);
    assert_eq!(
        gpg_reason("gpg: no valid OpenPGP data found.\n"),
        Some("no valid OpenPGP data found.".into())
    );
}

#[test]
fn import_results() {
    let s = "[GNUPG:] IMPORT_OK 1 X\n[GNUPG:] IMPORT_RES 1 0 1 0 0 0 0 0 0 1 1 0 0 0 0\n";
    assert_eq!(
        import_counts(s),
        ImportCounts {
            imported: 1,
            unchanged: 0,
            secret_read: 1,
            secret_imported: 1,
            secret_dups: 0
        }
    );
    assert_eq!(import_counts("garbage\n"), ImportCounts::default());
}

#[test]
fn user_ids_from_colon_listings() {
    let listing = "tru::1:1796018486:0:3:1:5\npub:-:3072:1:8ACEF412C82A9F90:1796018486:::-:::scSC::::::23::0:\n\
                   fpr:::::::::1C11E6C3477F2446C8F084838ACEF412C82A9F90:\n\
                   uid:-::::1796018486::HASH::Test Signer <t@x.invalid>::::::::::0:\n\
                   uid:r::::1796018486::HASH::Old Name <old@x>::::::::::0:\n\
                   uid:-::::1796018486::HASH::Colon\\x3a Name <c@x>::::::::::0:\n";
    assert_eq!(
        colon_user_ids(listing),
        ["Test Signer <t@x.invalid>", "Colon: Name <c@x>"]
    );
    assert_eq!(unescape_hex("A%25B%0AC", "%"), "A%B\nC");
    assert_eq!(unescape_hex("Jo\\x3a Doe \\xZZ", "\\x"), "Jo: Doe \\xZZ");
}

#[test]
fn keybox_magic() {
    let mut kbx = vec![0, 0, 0, 32, 1, 1, 0, 0];
    kbx.extend_from_slice(b"KBXf");
    assert!(is_keybox(&kbx));
    assert!(!is_keybox(b"\x99\x01\x8d"));
}

#[test]
fn passphrases_stay_out_of_debug_formatting() {
    let p = Passphrase::Value("hunter2".into());
    assert!(!format!("{p:?}").contains("hunter2"));
    let g = Gpg {
        program: "gpg".into(),
        passphrase: p,
        user_home: None,
        out: Output::new(true, false),
    };
    assert!(!format!("{g:?}").contains("hunter2"));
    let mut args = Vec::new();
    let input = g.passphrase_args(&mut args);
    assert!(!args.iter().any(|a| a.to_string_lossy().contains("hunter2")));
    assert_eq!(input.as_deref(), Some(&b"hunter2\n"[..]));
}
