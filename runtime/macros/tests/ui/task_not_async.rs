#[evl::task(pool_size = 2)]
fn blink(led: u32) {}

struct Motor;

impl Motor {
    #[evl::task]
    async fn run(&'static self) {}
}

fn main() {}
