#!/usr/bin/env bash
# A WAN-like multi-host devnet on one machine (docs/node.md, "WAN-like devnet: `chain bench wan`"): VALIDATORS
# (default 7) network namespaces chainwan0.., each joined by a veth pair to one bridge (10.77.0.254/24 on the host
# side; validator i at 10.77.0.(i+1)), and `tc netem delay DELAY JITTER loss LOSS` on every validator's egress. Then
# `chain bench wan` runs the same workload on loopback and in the namespaces and prints both. Needs root (ip netns,
# tc). The namespaces, veths and bridge are removed on exit, whatever the outcome (trap).
# A kernel without sch_netem (CONFIG_NET_SCH_NETEM unset, as in some VMs) cannot delay packets: then the same link is
# emulated in user space instead — each P2P connection goes through a DelayRelay on the bridge (docs/node.md).
# Usage: tools/netem-devnet.sh [extra `chain bench wan` options, e.g. --txs 400 --json .data/wan.json]
set -euo pipefail
VALIDATORS=${VALIDATORS:-7}
DELAY=${DELAY:-50ms}
JITTER=${JITTER:-10ms}
LOSS=${LOSS:-1%}
PREFIX=${NETNS_PREFIX:-chainwan}
SUBNET=${SUBNET:-10.77.0}
BRIDGE=${PREFIX}br
CHAIN=${CHAIN:-src/Chain.Cli/bin/Release/net10.0/linux-x64/chain}

cleanup() {
  for ((i = 0; i < VALIDATORS; i++)); do
    ip netns del "$PREFIX$i" 2>/dev/null || true
    ip link del "${PREFIX}h$i" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

[[ $(id -u) == 0 ]] || { echo "netem-devnet: needs root (ip netns, tc)" >&2; exit 2; }
[[ -x $CHAIN ]] || { echo "netem-devnet: $CHAIN not found; build it first (make wan does)" >&2; exit 2; }
cleanup # leftovers of an earlier run killed with SIGKILL
ip link add "$BRIDGE" type bridge
ip addr add "$SUBNET.254/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
for ((i = 0; i < VALIDATORS; i++)); do
  ns=$PREFIX$i
  ip netns add "$ns"
  ip link add "${PREFIX}h$i" type veth peer name "${PREFIX}n$i"
  ip link set "${PREFIX}n$i" netns "$ns"
  ip link set "${PREFIX}h$i" master "$BRIDGE" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$SUBNET.$((i + 1))/24" dev "${PREFIX}n$i"
  ip -n "$ns" link set "${PREFIX}n$i" up
  if [[ -z ${RELAY:-} ]] && ! ip netns exec "$ns" tc qdisc add dev "${PREFIX}n$i" root netem delay "$DELAY" "$JITTER" loss "$LOSS" 2>/dev/null; then
    RELAY=1
    echo "netem-devnet: this kernel has no sch_netem; the link is emulated by user-space relays instead" >&2
  fi
done
if [[ -z ${RELAY:-} ]]; then
  echo "netem-devnet: $VALIDATORS namespaces ${PREFIX}0..$((VALIDATORS - 1)) on $SUBNET.0/24, netem delay $DELAY $JITTER loss $LOSS on each validator's egress"
  "$CHAIN" bench wan --validators "$VALIDATORS" --netns "$PREFIX" --subnet "$SUBNET" --netem "netem delay $DELAY $JITTER loss $LOSS" "$@"
else
  echo "netem-devnet: $VALIDATORS namespaces ${PREFIX}0..$((VALIDATORS - 1)) on $SUBNET.0/24, relays on $SUBNET.254: delay ${DELAY%ms}±${JITTER%ms} ms each way, ${LOSS%\%}% of chunks +200 ms"
  "$CHAIN" bench wan --validators "$VALIDATORS" --netns "$PREFIX" --subnet "$SUBNET" \
    --relay-delay-ms "${DELAY%ms}" --relay-jitter-ms "${JITTER%ms}" --relay-loss-percent "${LOSS%\%}" "$@"
fi
