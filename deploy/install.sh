#!/usr/bin/env bash
# Installs facegate as a systemd service on this device, from this checkout. Idempotent: a second run
# upgrades to the checkout's code and restarts the service, and never overwrites the configuration.
#   sudo deploy/install.sh                      install or upgrade, enable and (re)start
#   sudo deploy/install.sh --uninstall          remove service, user and /opt/facegate; keep config and gallery
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
[[ -x $NODE ]] || die "$NODE not found (node here: $(command -v node || echo none)). The service runs $NODE: install Node.js 20 or newer as a system package (Debian's nodejs, or NodeSource), or link it: ln -s \"\$(command -v node)\" $NODE"

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

say "installing $UNIT"
install -m 0644 "$PREFIX/systemd/facegate.service" "$UNIT"
systemctl daemon-reload
was_active=0
systemctl is-active --quiet facegate && was_active=1
say "starting facegate (returns once models are loaded and the camera streams)"
if ! systemctl enable --now facegate || { (( was_active )) && ! systemctl restart facegate; }; then
  echo "install: facegate did not start. Its log:" >&2
  journalctl -u facegate -n 30 --no-pager >&2 || true
  die "fix the cause (often the camera or a GPIO pin in $CONF), then: systemctl restart facegate"
fi

cat <<EOF

facegate is installed and running ($(systemctl is-active facegate)).
  follow the log:      journalctl -u facegate -f
  service state:       systemctl status facegate
  health and metrics:  curl -s http://127.0.0.1:9464/readyz    (port: health.port in $CONF)
  configuration:       $CONF (then: systemctl restart facegate)
  gallery commands run as the service user, so the files stay its own:
    sudo -u $SERVICE_USER $NODE $PREFIX/bin/facegate.js gallery --help --config $CONF
EOF
