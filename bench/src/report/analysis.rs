//! The prose of the cold-start section that reads the figures: where variant 2's init and memory
//! go, computed from this run's medians, and what the library keeps from the ablations.

use std::fmt::Write as _;

use super::{cold, human};
use crate::cold_start::{Metric, VariantResult};
use crate::report::ColdStartFile;

fn variant<'a>(file: &'a ColdStartFile, id: &str) -> Option<&'a VariantResult> {
    file.variants
        .iter()
        .find(|v| v.id == id && v.skipped.is_none())
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// "Where variant 2's init and memory go", from the differences between variants of this run.
pub(super) fn where_it_goes(page: &mut String, file: &ColdStartFile) {
    page.push_str("### Where variant 2's init and memory go\n\n");
    let init = |id: &str| cold(file, Metric::Init, id);
    let first = |id: &str| cold(file, Metric::FirstResponse, id);
    if let (Some(stack), Some(bare), Some(hello)) = (
        init("rust-lamina"),
        init("rust-lamina-no-prefetch"),
        init("rust-hello"),
    ) {
        let _ = writeln!(
            page,
            "Of variant 2's {} of init, {} is the prefetch (variant 2 minus its `nothing \
             prefetched` ablation): the JWKS from the loopback server, the secret from moto, and \
             for the secret's connection, the system's root certificates loaded and parsed by the \
             AWS SDK's TLS client (`rustls-native-certs` reads the bundle file and then every \
             file of the certificate directory; this machine's Debian image lists each root in \
             both). The other {} over variant 1 is the stack's own init (the logging and X-Ray \
             layers, the AWS configuration, the Secrets Manager client, the JWT verifier) and \
             starting a bigger executable. Without the prefetch, variant 2's init is {:.2}× \
             variant 1's.",
            human(stack),
            human(stack - bare),
            human(bare - hello),
            bare / hello,
        );
    }
    if let (Some(spawned), Some(spawned_first), Some(stack_first)) = (
        init("rust-lamina-background-prefetch"),
        first("rust-lamina-background-prefetch"),
        first("rust-lamina"),
    ) {
        let _ = writeln!(
            page,
            "\nStarting the same prefetch without waiting for it (`Prefetch::spawn`) ends init in \
             {} and answers the first request in {}, against {} with the prefetch awaited: the \
             fetches then overlap the runtime's first `/next` and the event's delivery.",
            human(spawned),
            human(spawned_first),
            human(stack_first),
        );
    }
    let sizes: Vec<String> = [
        "rust-hello",
        "rust-lamina",
        "rust-lamina-opt-s",
        "rust-lamina-opt-z",
        "rust-lamina-ring",
    ]
    .iter()
    .filter_map(|id| variant(file, id))
    .filter_map(|v| {
        let rss = v.median_memory_mb()?;
        let size = v.binary_bytes?;
        Some(format!("{} {rss} MB for {}", v.id, megabytes(size)))
    })
    .collect();
    if sizes.len() > 1 {
        let _ = writeln!(
            page,
            "\nPeak RSS follows the size of the executable more than anything the function \
             allocates: the pages of its own code that the kernel maps in at start count in \
             Lambda's Max Memory Used. Peak RSS against binary size in this run: {}.",
            sizes.join("; ")
        );
    }
    page.push('\n');
}

/// What the library and the workspace keep from the ablations, and why. The figures are in the
/// tables above; this says which way each choice went.
pub(super) fn choices(page: &mut String) {
    page.push_str(
        "### What Lamina keeps\n\n\
         - **Concurrent prefetch** (`Prefetch::run`) stays the default way to do init work: it \
         costs the slowest task instead of the sum (the `sequential` row). `Prefetch::spawn` \
         shortens init for on-demand functions, at no gain for the first response on these \
         loopback fetches; with provisioned concurrency or SnapStart, `run` is the one to use (the \
         process is frozen after init).\n\
         - **Lazy clients**: `LazyClient::new` builds a client on first use, so a client a path \
         does not need costs nothing at init (the `eager` row is one client more).\n\
         - **The workspace's release profile** keeps `lto = true`, `codegen-units = 1` and \
         `strip = true`: their rows show what turning each off costs in size, init or memory. It \
         keeps `panic = \"unwind\"`, which `ProblemLayer` needs to turn a handler's panic into a \
         500 instead of losing the process. `opt-level = \"s\"` is what the [building \
         guide](building.md) recommends for functions, for the size and memory its row \
         saves.\n\
         - **aws-lc-rs stays the default crypto backend**, as the AWS SDK's own; `ring` is a \
         feature of `lamina-middleware` for functions that want no aws-lc-rs in their build \
         ([Crypto backend](middleware/crypto.md)).\n\n",
    );
}
