//! Wall time per seed (one run), slowest first: where explore's time goes.
#![allow(clippy::disallowed_methods)]
fn main() {
    let mut costs = Vec::new();
    for seed in 0..200u64 {
        if seed == 52 || seed == 243 {
            continue;
        }
        let plan = xfrsim_explore::generate(seed);
        let (_, loaded) = xfrsim_explore::load(&plan).unwrap();
        let start = std::time::Instant::now();
        let outcome = xfrsim_sim::run_quiet(&loaded, xfrsim_sim::RunOptions { seed, warp: true }, None).unwrap();
        costs.push((
            start.elapsed().as_millis(),
            seed,
            outcome.network.instants,
            outcome.event_count(),
            plan.summary(),
        ));
    }
    costs.sort();
    costs.reverse();
    let total: u128 = costs.iter().map(|c| c.0).sum();
    println!("total {total} ms");
    for c in costs.iter().take(12) {
        println!("{:?}", c);
    }
}
