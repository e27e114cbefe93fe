#!/usr/bin/env bash
# The container of packaging/container/: builds the image from the Debian package that
# scripts/package-test.sh made (BUILD_DIR/package/*.deb), runs it with a web token as a secret
# file and the dashboard published on a free port, waits for /healthz through that port, checks
# that the API needs the token and that a report dropped into the volume is stored, then removes
# the container, its volume and the image.
#
#   scripts/container-test.sh [BUILD_DIR]      (as root, with podman; ~1 minute)
#
# The base image: $CONTAINER_BASE (default docker.io/library/debian:12) when podman has it or can
# pull it; otherwise (no registry, as in this CI) a Debian 12 root file system made with
# mmdebstrap from the Debian mirror, imported once as localhost/debian-rootfs:12.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
command -v podman >/dev/null || fail "podman is not installed (apt-get install podman)"
ls "$build"/package/dmarc-report_*.deb >/dev/null 2>&1 || fail "no package: run scripts/package-test.sh"

base=${CONTAINER_BASE:-docker.io/library/debian:12}
if ! podman image exists "$base" && ! timeout 60 podman pull -q "$base" >/dev/null 2>&1; then
  base=localhost/debian-rootfs:12
  if ! podman image exists "$base"; then
    echo "no registry: making $base with mmdebstrap from the Debian mirror"
    mmdebstrap --quiet --variant=minbase --format=tar bookworm - | podman import - "$base" >/dev/null
  fi
fi

# Where crun cannot set the limits it wants or runs with hybrid cgroups (this CI's machine: no
# CAP_SYS_RESOURCE, cgroup v1), runc with the limits the machine has works.
podman=(podman)
limits=()
if ! podman run --rm "$base" true >/dev/null 2>&1; then
  podman=(podman --runtime runc)
  limits=(--ulimit "nofile=$(ulimit -n):$(ulimit -n)" --ulimit nproc=4096:4096)
  "${podman[@]}" run --rm "${limits[@]}" "$base" true || fail "podman cannot run $base here"
fi

tag=localhost/dmarc-report-test:latest
name=dmarc-report-test-$$
volume=dmarc-report-test-$$
tmp=$(mktemp -d)
cleanup() {
  "${podman[@]}" rm -f "$name" >/dev/null 2>&1 || true
  "${podman[@]}" volume rm -f "$volume" >/dev/null 2>&1 || true
  "${podman[@]}" rmi -f "$tag" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "--- build (base $base)"
# The context: the package alone.
mkdir -p "$tmp/context"
cp "$build"/package/dmarc-report_*.deb "$tmp/context/"
"${podman[@]}" build -q "${limits[@]}" --network host --build-arg "BASE=$base" \
  -f packaging/container/Containerfile -t "$tag" "$tmp/context" >/dev/null

echo "--- run"
openssl rand -hex 32 >"$tmp/web-token"
chmod 644 "$tmp/web-token" # read by the container's user; the file stays in this private folder
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${podman[@]}" run -d "${limits[@]}" --name "$name" -p "127.0.0.1:$port:8080" \
  -v "$volume:/var/lib/dmarc-report" -v "$tmp/web-token:/run/secrets/web-token:ro" \
  -e DMARC_REPORT_ENRICH_OFFLINE=true "$tag" >/dev/null
for _ in $(seq 1 150); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  "${podman[@]}" container exists "$name" && [ "$("${podman[@]}" inspect -f '{{.State.Running}}' "$name")" = true ] ||
    { "${podman[@]}" logs "$name"; fail "the container stopped"; }
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/healthz" || { "${podman[@]}" logs "$name"; fail "no /healthz"; }
echo
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/stats")
[ "$code" = 401 ] || fail "the API answered $code without the token"
example=$(ls testdata/real/parsedmarc-samples/aggregate/*.xml | head -1)
# Written as the service user under a name the drop folder skips, then renamed into view.
"${podman[@]}" exec -i -u dmarc-report "$name" sh -c 'cat >inbox/.incoming && mv inbox/.incoming inbox/example.xml' <"$example"
stored=0
for _ in $(seq 1 100); do
  if curl -fsS -H "Authorization: Bearer $(cat "$tmp/web-token")" "http://127.0.0.1:$port/api/stats" |
    grep -q '"reports": *[1-9]'; then
    stored=1
    break
  fi
  sleep 0.2
done
[ $stored -eq 1 ] || { "${podman[@]}" logs "$name"; fail "the dropped report was not stored"; }
"${podman[@]}" stop -t 30 "$name" >/dev/null
[ "$("${podman[@]}" inspect -f '{{.State.ExitCode}}' "$name")" = 0 ] ||
  { "${podman[@]}" logs "$name"; fail "the service did not stop cleanly"; }
echo "container test passed: healthz, token required, a report stored, clean stop"
