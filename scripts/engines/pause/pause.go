// A pod's sandbox process for the CRI scenarios of scripts/engine-test.sh, built locally
// (there is no network to pull registry.k8s.io/pause): it waits for SIGINT or SIGTERM and exits
// 0, and as PID 1 of a pod with a shared PID namespace it reaps the orphans that are
// reparented to it.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
