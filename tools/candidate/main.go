// Command candidate is a client-go leader-election candidate used by the
// effect-k8s-leader interop tests and benchmarks. It runs
// k8s.io/client-go/tools/leaderelection with a resourcelock.LeaseLock and
// ReleaseOnCancel, exactly as a typical Go operator does, and prints one JSON
// line per event on stdout:
//
//	{"event":"ready"|"started_leading"|"stopped_leading"|"new_leader",
//	 "identity":"...","leader":"...","mono_ns":123,"wall":"RFC3339Nano"}
//
// mono_ns is CLOCK_MONOTONIC in nanoseconds (comparable with Node's
// process.hrtime.bigint() on Linux). SIGTERM or SIGINT cancels the election
// context; the lease is released and the process exits 0. If leadership is
// lost without a signal, the process exits 1 (like operators that call
// klog.Fatal in OnStoppedLeading).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

type event struct {
	Event    string `json:"event"`
	Identity string `json:"identity"`
	Leader   string `json:"leader"`
	MonoNs   int64  `json:"mono_ns"`
	Wall     string `json:"wall"`
}

var outMu sync.Mutex

func monoNs() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

func emit(name, identity, leader string) {
	ev := event{Event: name, Identity: identity, Leader: leader, MonoNs: monoNs(), Wall: time.Now().UTC().Format(time.RFC3339Nano)}
	line, err := json.Marshal(ev)
	if err != nil {
		return
	}
	outMu.Lock()
	defer outMu.Unlock()
	_, _ = os.Stdout.Write(append(line, '\n'))
}

func main() {
	klog.InitFlags(nil)
	var (
		kubeconfig    = flag.String("kubeconfig", "", "path to a kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
		namespace     = flag.String("namespace", "default", "namespace of the Lease")
		leaseName     = flag.String("lease-name", "", "name of the Lease (required)")
		identity      = flag.String("identity", "", "holder identity (default: hostname_pid)")
		leaseDuration = flag.Duration("lease-duration", 15*time.Second, "LeaseDuration")
		renewDeadline = flag.Duration("renew-deadline", 10*time.Second, "RenewDeadline")
		retryPeriod   = flag.Duration("retry-period", 2*time.Second, "RetryPeriod")
	)
	flag.Parse()
	if *leaseName == "" {
		fmt.Fprintln(os.Stderr, "candidate: --lease-name is required")
		os.Exit(2)
	}
	if *identity == "" {
		host, _ := os.Hostname()
		*identity = fmt.Sprintf("%s_%d", host, os.Getpid())
	}

	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if *kubeconfig != "" {
		rules.ExplicitPath = *kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		fmt.Fprintf(os.Stderr, "candidate: kubeconfig: %v\n", err)
		os.Exit(2)
	}
	cfg.UserAgent = "effect-k8s-leader-candidate"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "candidate: client: %v\n", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: *leaseName, Namespace: *namespace},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: *identity},
	}

	var elector *leaderelection.LeaderElector
	currentLeader := func() string {
		if elector == nil {
			return ""
		}
		return elector.GetLeader()
	}
	elector, err = leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   *leaseDuration,
		RenewDeadline:   *renewDeadline,
		RetryPeriod:     *retryPeriod,
		ReleaseOnCancel: true,
		Name:            *leaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { emit("started_leading", *identity, *identity) },
			OnStoppedLeading: func() { emit("stopped_leading", *identity, currentLeader()) },
			OnNewLeader:      func(leader string) { emit("new_leader", *identity, leader) },
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "candidate: %v\n", err)
		os.Exit(2)
	}

	emit("ready", *identity, "")
	// Run returns when ctx is cancelled (after releasing the lease, since
	// ReleaseOnCancel is set) or when leadership is lost.
	elector.Run(ctx)
	if ctx.Err() != nil {
		os.Exit(0)
	}
	fmt.Fprintln(os.Stderr, "candidate: leader election lost")
	os.Exit(1)
}
