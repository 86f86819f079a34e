#[evl::main(backend = "posix")]
async fn unknown_backend() {}

#[evl::main(backend = host)]
async fn not_a_string() {}

fn main() {}
