//go:build tools

// Package tools pins k8s.io/kubernetes/cmd/kube-apiserver in go.mod/go.sum; the binary is built with
// `go build k8s.io/kubernetes/cmd/kube-apiserver` from this directory.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
