# Builds the cloudcensus binary; used by docker-compose.yml.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin cloudcensus

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/cloudcensus /usr/local/bin/cloudcensus
ENV CLOUDCENSUS_BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["cloudcensus"]
CMD ["serve"]
