// Runs: task pools spawned from `#[evl::main]`, including a pool sized by a const.
use evl::SpawnError;

const LEDS: usize = 3;

/// Docs stay on the generated function.
#[evl::task(pool_size = LEDS)]
async fn blink(led: u32, times: u32) -> u32 {
    for _ in 0..times {
        evl::yield_now().await;
    }
    led
}

#[evl::task]
pub(crate) async fn once(label: &'static str) -> usize {
    label.len()
}

#[evl::main(backend = "host", lock_memory = false, signals = false)]
async fn main() {
    let hs: Vec<_> = (0..LEDS as u32)
        .map(|led| blink(led, 3).spawn().expect("a free slot"))
        .collect();
    assert!(matches!(
        blink(9, 1).spawn(),
        Err(SpawnError::Full { capacity: LEDS })
    ));
    for (led, h) in hs.into_iter().enumerate() {
        assert_eq!(h.await.unwrap(), led as u32);
    }
    assert_eq!(once("four").spawn().unwrap().await.unwrap(), 4);
}
