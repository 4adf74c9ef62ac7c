//! The smallest `lambda_http` function there is: the baseline `benches/init.rs` measures the interactions
//! function's cold start against, side by side in one run. It answers every request with an empty 200.

use std::convert::Infallible;

use lambda_http::{Body, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::run(service_fn(|_: Request| async {
        Ok::<_, Infallible>(Response::new(Body::Empty))
    }))
    .await
}
