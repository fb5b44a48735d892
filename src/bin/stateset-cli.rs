//! `stateset-cli`: the terminal client. For now it only tells its version; login and the
//! orders/products/inventory commands arrive with their own issue.

fn main() {
    println!("stateset-cli {}", env!("CARGO_PKG_VERSION"));
}
