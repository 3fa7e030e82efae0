// etcd for iotmq's Kubernetes integration tests: the upstream server command (etcdmain), at the
// go.etcd.io/etcd/server/v3 version go.mod pins (the one k8s.io/kubernetes itself requires).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
