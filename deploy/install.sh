#!/usr/bin/env bash
# Installs facegate as a systemd service on this device, from this checkout. Idempotent: a second run
# upgrades to the checkout's code and restarts the service, and never overwrites the configuration.
#   sudo deploy/install.sh                      install or upgrade; starts the service once the config is edited and checks out
#   sudo deploy/install.sh --uninstall          remove service, user, /opt/facegate, the facegate command; keep config and gallery
#   sudo deploy/install.sh --uninstall --purge  also delete /etc/facegate and /var/lib/facegate (the gallery)
set -euo pipefail
# The service user must be able to read what root builds here (node_modules, models), whatever root's umask.
umask 022

readonly PREFIX=/opt/facegate
readonly CONF_DIR=/etc/facegate
readonly CONF=$CONF_DIR/facegate.yaml
readonly STATE_DIR=/var/lib/facegate
readonly UNIT=/etc/systemd/system/facegate.service
readonly UDEV_RULE=/etc/udev/rules.d/60-facegate-gpio.rules
# The `facegate` command: runs the CLI as the service user with the service's config.
readonly WRAPPER=/usr/local/bin/facegate
readonly SERVICE_USER=facegate
# The unit's ExecStart names this path: a service must not depend on root's or a user's PATH.
readonly NODE=/usr/bin/node

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly src

say() { echo "install: $*"; }
die() { echo "install: $*" >&2; exit 1; }
trap 'echo "install: failed at line $LINENO; nothing after it was done. Fix the cause and run it again." >&2' ERR

uninstall=0
purge=0
for arg in "$@"; do
  case $arg in
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    -h | --help) sed -n '2,6s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown option $arg (see --help)" ;;
  esac
done
(( purge && !uninstall )) && die "--purge deletes the gallery and the configuration; it only goes with --uninstall"

if [[ $(id -u) -ne 0 ]]; then
  echo "install: this changes system files and must run as root:" >&2
  echo "  sudo bash $src/deploy/install.sh $*" >&2
  exit 1
fi
[[ -d /run/systemd/system ]] || die "this system is not running systemd; facegate's service needs it (run 'facegate run' by hand instead)"

# --- uninstall ------------------------------------------------------------------------------
if (( uninstall )); then
  if [[ -f $UNIT ]]; then
    say "stopping and disabling facegate"
    systemctl disable --now facegate || true
    rm -f "$UNIT"
    systemctl daemon-reload
    systemctl reset-failed facegate 2>/dev/null || true
  fi
  # Only our own wrapper: a `facegate` someone else put there stays.
  if [[ -f $WRAPPER ]] && grep -q "Installed by facegate's deploy/install.sh" "$WRAPPER"; then
    rm -f "$WRAPPER"
  fi
  if [[ -f $UDEV_RULE ]]; then
    rm -f "$UDEV_RULE"
    udevadm control --reload-rules || true
  fi
  if id "$SERVICE_USER" &>/dev/null; then
    say "removing user $SERVICE_USER"
    userdel "$SERVICE_USER"
  fi
  getent group "$SERVICE_USER" >/dev/null && groupdel "$SERVICE_USER"
  if [[ $src == "$PREFIX" ]]; then
    say "kept $PREFIX: it is the checkout this script runs from"
  elif [[ -d $PREFIX ]]; then
    rm -rf "$PREFIX"
  fi
  if (( purge )); then
    rm -rf "$CONF_DIR" "$STATE_DIR"
    say "deleted $CONF_DIR and $STATE_DIR (configuration and gallery)"
  else
    # The freed UID may be given to another account later: it must not inherit the faces.
    [[ -d $STATE_DIR ]] && chown -R root:root "$STATE_DIR"
    [[ -d $CONF_DIR ]] && chown -R root:root "$CONF_DIR"
    say "kept $CONF_DIR (configuration) and $STATE_DIR (gallery, now owned by root); --uninstall --purge deletes them"
  fi
  say "facegate is uninstalled"
  exit 0
fi

# --- install --------------------------------------------------------------------------------
case $src/ in "$PREFIX"/?*) die "run it from a checkout outside $PREFIX, or from $PREFIX itself" ;; esac
case $PREFIX/ in "$src"/?*) die "the checkout $src contains $PREFIX: run it from a checkout elsewhere" ;; esac
# shellcheck source=deploy/require.sh
source "$src/deploy/require.sh"
require_64bit || die "stopped: 64-bit system required (see above)"
# The unit runs $NODE, not whatever node is first on root's PATH.
require_node20 "$NODE" || die "stopped: the service runs $NODE, which must be Node.js 20 or newer (see above)"

say "system user and groups"
getent group video >/dev/null || groupadd --system video
getent group gpio >/dev/null || groupadd --system gpio
if id "$SERVICE_USER" &>/dev/null; then
  usermod --append --groups video,gpio "$SERVICE_USER"
else
  useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin \
    --groups video,gpio --comment "facegate door controller" "$SERVICE_USER"
fi

# Raspberry Pi OS and JetPack already give group gpio the GPIO devices; plain Debian/Ubuntu do not.
distro_has_gpio_rule() {
  local f
  for f in /etc/udev/rules.d/*.rules /usr/lib/udev/rules.d/*.rules /lib/udev/rules.d/*.rules; do
    [[ -f $f && $f != "$UDEV_RULE" ]] && grep -qE 'GROUP="gpio"|root:gpio' "$f" && return 0
  done
  return 1
}
if ! distro_has_gpio_rule; then
  say "udev rule: group gpio may use /dev/gpiochip* and /dev/gpiomem"
  cat >"$UDEV_RULE" <<'EOF'
# Written by facegate's deploy/install.sh: the distribution gives no group access to GPIO.
SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"
KERNEL=="gpiomem*", GROUP="gpio", MODE="0660"
EOF
  udevadm control --reload-rules
  udevadm trigger --subsystem-match=gpio
  udevadm trigger --sysname-match='gpiomem*'
fi

if [[ $src == "$PREFIX" ]]; then
  say "using the checkout in place: $PREFIX"
else
  command -v rsync >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rsync; }
  say "copying $src to $PREFIX"
  # Git-ignored paths (node_modules, built models, caches) are neither copied nor deleted: the ones
  # in $PREFIX were built there by setup.sh, for this machine. Root owns the code; the service only reads it.
  rsync -a --delete --chown=root:root --chmod=go-w --exclude=/.git --filter=':- .gitignore' "$src/" "$PREFIX/"
fi

# Debian packages, npm ci, models: built where they run, so native modules match this machine.
say "running deploy/setup.sh in $PREFIX"
bash "$PREFIX/deploy/setup.sh"

# The configuration may hold the MQTT password: root writes it, the service (group) reads it.
install -d -m 0750 -o root -g "$SERVICE_USER" "$CONF_DIR"
if [[ -e $CONF ]]; then
  say "keeping the existing $CONF"
else
  install -m 0640 -o root -g "$SERVICE_USER" "$PREFIX/deploy/facegate.example.yaml" "$CONF"
  say "installed $CONF from deploy/facegate.example.yaml: edit it (cameras, doors, GPIO pins), then: systemctl restart facegate"
fi
chown root:"$SERVICE_USER" "$CONF"
chmod 0640 "$CONF"

# StateDirectory= would create it at start; made now so gallery commands work before the first start,
# and files a root-run command left there become the service's again.
install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"
chown -R "$SERVICE_USER:$SERVICE_USER" "$STATE_DIR"

say "installing $WRAPPER (the facegate command, run as user $SERVICE_USER)"
# Unquoted heredoc: $SERVICE_USER, $CONF, $NODE and $PREFIX are filled in now; \$ stays for the wrapper.
cat >"$WRAPPER.tmp" <<WRAPPER_EOF
#!/bin/sh
# Installed by facegate's deploy/install.sh: the facegate command line, run as the service user
# $SERVICE_USER with the service's config, so files it writes (gallery, exports) stay the service's
# and it reads the same gallery as the daemon. Another config: facegate --config FILE ..., or
# FACEGATE_CONFIG=FILE facegate ... (the file must be readable by $SERVICE_USER).
config="\${FACEGATE_CONFIG:-$CONF}"
set -- env FACEGATE_CONFIG="\$config" ORT_DISABLE_TELEMETRY=1 OPENCV4NODEJS_DISABLE_AUTOBUILD=1 \\
  OPENCV4NODEJS_DISABLE_EXTERNAL_MEM_TRACKING=1 $NODE $PREFIX/bin/facegate.js "\$@"
if [ "\$(id -un)" = $SERVICE_USER ]; then exec "\$@"; fi
exec sudo -u $SERVICE_USER "\$@"
WRAPPER_EOF
install -m 0755 -o root -g root "$WRAPPER.tmp" "$WRAPPER"
rm -f "$WRAPPER.tmp"

say "installing $UNIT"
install -m 0644 "$PREFIX/systemd/facegate.service" "$UNIT"
systemctl daemon-reload

# The example config names /dev/video0 and GPIO 17, which a given board may not have: the service
# starts only once the config was edited and `facegate config check` passes. Problems of the camera
# alone do not stop it: the daemon then runs degraded (/readyz not ready) and logs why.
as_service() {
  runuser -u "$SERVICE_USER" -- env ORT_DISABLE_TELEMETRY=1 OPENCV4NODEJS_DISABLE_AUTOBUILD=1 \
    OPENCV4NODEJS_DISABLE_EXTERNAL_MEM_TRACKING=1 "$NODE" "$PREFIX/bin/facegate.js" "$@"
}
next_steps() {
  echo "  1. edit $CONF: camera (type, device), doors (relay pin), gpio (LEDs, button), mqtt"
  echo "  2. check it as the service will see it:   facegate config check"
  echo "  3. start it now and at every boot:         sudo systemctl enable --now facegate"
}
# Prints the problems of a `config check --json` answer; succeeds when all of them are the camera's.
only_camera_problems() {
  "$NODE" -e '
    const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const problems = r.problems ?? [];
    for (const p of problems) console.error("  " + p.text);
    if (r.error) console.error("  " + r.error.message);
    process.exit(problems.length > 0 && problems.every((p) => p.area === "camera") ? 0 : 1);'
}
was_active=0
systemctl is-active --quiet facegate && was_active=1
start=0
if cmp -s "$CONF" "$PREFIX/deploy/facegate.example.yaml"; then
  say "$CONF is still the example, so facegate is installed but not started. Next:"
  next_steps
  if (( was_active )); then systemctl stop facegate; fi
else
  say "checking $CONF (facegate config check, as user $SERVICE_USER)"
  if check_json=$(as_service config check "$CONF" --json); then
    start=1
  elif printf '%s\n' "$check_json" | only_camera_problems; then
    start=1
    say "starting anyway: only the camera is missing, so facegate runs degraded (not ready) until it is there"
  else
    say "not started: fix the problems above in $CONF, then:"
    next_steps
    if (( was_active )); then systemctl stop facegate; fi
  fi
fi
if (( start )); then
  say "starting facegate (returns once the models are loaded)"
  systemctl enable --quiet facegate
  if (( was_active )); then systemctl restart facegate || true; else systemctl start facegate || true; fi
  if ! systemctl is-active --quiet facegate; then
    echo "install: facegate did not start. Its log:" >&2
    journalctl -u facegate -n 30 --no-pager >&2 || true
    die "fix the cause in $CONF (facegate config check lists the problems), then: sudo systemctl restart facegate"
  fi
fi

cat <<EOF

facegate is installed ($(systemctl is-active facegate || true)).
  command line:        facegate --help    (runs as user $SERVICE_USER with $CONF)
  follow the log:      journalctl -u facegate -f
  warnings, errors:    journalctl -u facegate -p warning
  service state:       systemctl status facegate
  health and metrics:  curl -s http://127.0.0.1:9464/readyz    (port: health.port in $CONF)
  update:              cd $src && git pull && sudo deploy/install.sh
  uninstall:           sudo $src/deploy/install.sh --uninstall    (keeps $CONF_DIR and $STATE_DIR; add --purge to delete them)
EOF
