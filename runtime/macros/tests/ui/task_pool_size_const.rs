// A pool size given as a const expression is checked when the crate compiles.
const NONE: usize = 0;

#[evl::task(pool_size = NONE)]
async fn empty() {}

fn main() {
    let _ = empty;
}
