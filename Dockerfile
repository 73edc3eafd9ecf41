# Builds the cloudcensus binary; used by docker-compose.yml.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, in a layer of their own: a change to the sources rebuilds only the
# workspace's crates. The manifests come with empty targets so that cargo can resolve them.
COPY Cargo.toml Cargo.lock ./
COPY entity/Cargo.toml entity/
COPY migration/Cargo.toml migration/
COPY simulator/Cargo.toml simulator/
RUN for crate in . entity migration simulator; do mkdir -p $crate/src && touch $crate/src/lib.rs; done \
 && for bin in . simulator; do echo 'fn main() {}' > $bin/src/main.rs; done \
 && sed -i '/^\[\[bench\]\]/,$d' Cargo.toml \
 && cargo build --release --locked --bin cloudcensus \
 && rm -rf src entity/src migration/src simulator/src
COPY . .
# The sources are newer than the placeholder builds: cargo rebuilds only the workspace.
RUN touch src/main.rs src/lib.rs entity/src/lib.rs migration/src/lib.rs simulator/src/lib.rs \
 && cargo build --release --locked --bin cloudcensus

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /var/lib/cloudcensus cloudcensus
COPY --from=build /src/target/release/cloudcensus /usr/local/bin/cloudcensus
USER cloudcensus
WORKDIR /var/lib/cloudcensus
ENV CLOUDCENSUS_BIND=0.0.0.0:8080
EXPOSE 8080
# Running syncs get 30 s to stop cleanly at SIGTERM: give the container longer (compose sets
# stop_grace_period; with `docker stop`, pass --time 45).
STOPSIGNAL SIGTERM
ENTRYPOINT ["cloudcensus"]
CMD ["serve"]
