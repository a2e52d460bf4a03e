# The warden-verifier image, for those who build with Docker (`make image` builds the same image
# as an OCI layout without Docker: scripts/package-verifier-image.sh). A static musl binary on
# scratch with CA certificates (rediss:// to public CAs), run as the non-root user 65532.
#   docker build -t warden-verifier:0.1.0 .
FROM rust:1-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --release --locked --target x86_64-unknown-linux-musl -p warden-verifier
RUN mkdir -p /rootfs/etc/ssl/certs /rootfs/usr/local/bin /rootfs/tmp /rootfs/home/warden \
    && printf 'root:x:0:0:root:/root:/sbin/nologin\nwarden:x:65532:65532:warden:/home/warden:/sbin/nologin\n' > /rootfs/etc/passwd \
    && printf 'root:x:0:\nwarden:x:65532:\n' > /rootfs/etc/group \
    && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
    && cp target/x86_64-unknown-linux-musl/release/warden-verifier /rootfs/usr/local/bin/ \
    && chmod 1777 /rootfs/tmp && chown 65532:65532 /rootfs/home/warden && chmod 700 /rootfs/home/warden

FROM scratch
COPY --from=build /rootfs/ /
ENV PATH=/usr/local/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    WARDEN_LISTEN=0.0.0.0:8081 \
    WARDEN_ADMIN_LISTEN=0.0.0.0:8082
WORKDIR /home/warden
USER 65532:65532
EXPOSE 8081 8082
ENTRYPOINT ["/usr/local/bin/warden-verifier"]
CMD ["serve"]
