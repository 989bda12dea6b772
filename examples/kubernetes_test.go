package examples

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
	"gopkg.in/yaml.v3"
)

// k8sObject is the part of a Kubernetes object the tests read.
type k8sObject struct {
	file       string
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   k8sMeta           `yaml:"metadata"`
	Data       map[string]string `yaml:"data"` // ConfigMap
	Spec       yaml.Node         `yaml:"spec"`
}

type k8sMeta struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

type k8sDeploymentSpec struct {
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	Template struct {
		Metadata struct {
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"metadata"`
		Spec k8sPodSpec `yaml:"spec"`
	} `yaml:"template"`
}

type k8sPodSpec struct {
	InitContainers []k8sContainer `yaml:"initContainers"`
	Containers     []k8sContainer `yaml:"containers"`
	Volumes        []struct {
		Name   string `yaml:"name"`
		Secret *struct {
			SecretName string `yaml:"secretName"`
			Items      []struct {
				Key  string `yaml:"key"`
				Path string `yaml:"path"`
			} `yaml:"items"`
		} `yaml:"secret"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		EmptyDir *struct{} `yaml:"emptyDir"`
	} `yaml:"volumes"`
}

type k8sContainer struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	Ports []struct {
		ContainerPort int    `yaml:"containerPort"`
		Name          string `yaml:"name"`
	} `yaml:"ports"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	StartupProbe   *k8sProbe `yaml:"startupProbe"`
}

type k8sProbe struct {
	Exec *struct {
		Command []string `yaml:"command"`
	} `yaml:"exec"`
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"` // a number or the name of a container port
	} `yaml:"httpGet"`
}

// certManagerKeys are the files cert-manager writes into a Certificate's
// Secret.
var certManagerKeys = map[string]string{"tls.crt": "", "tls.key": "", "ca.crt": ""}

// decodeObjects reads the YAML documents of one manifest file.
func decodeObjects(t testing.TB, file string, data []byte) []*k8sObject {
	t.Helper()
	var objs []*k8sObject
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		o := &k8sObject{file: file}
		if err := dec.Decode(o); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("%s: %v", file, err)
		}
		objs = append(objs, o)
	}
}

// loadPods reads the Deployments among objs into the container model, one
// group per pod template, resolving Secrets against the Certificates and
// ConfigMaps defined beside them.
func loadPods(t testing.TB, objs []*k8sObject, images map[string]*image) []*group {
	t.Helper()
	secrets, configMaps := map[string]bool{}, map[string]*k8sObject{}
	namespace := ""
	for _, o := range objs {
		if namespace == "" {
			namespace = o.Metadata.Namespace
		}
		if o.Metadata.Namespace != namespace {
			t.Errorf("%s: %s %s is in namespace %q, the others in %q", o.file, o.Kind, o.Metadata.Name, o.Metadata.Namespace, namespace)
		}
		switch o.Kind {
		case "Certificate":
			var spec struct {
				SecretName string   `yaml:"secretName"`
				DNSNames   []string `yaml:"dnsNames"`
			}
			if err := o.Spec.Decode(&spec); err != nil || spec.SecretName == "" || len(spec.DNSNames) == 0 {
				t.Errorf("%s: Certificate %s needs secretName and dnsNames (%v)", o.file, o.Metadata.Name, err)
			}
			secrets[spec.SecretName] = true
		case "ConfigMap":
			configMaps[o.Metadata.Name] = o
		}
	}
	var groups []*group
	for _, o := range objs {
		if o.Kind != "Deployment" {
			continue
		}
		var spec k8sDeploymentSpec
		if err := o.Spec.Decode(&spec); err != nil {
			t.Fatalf("%s: %v", o.file, err)
		}
		where := fmt.Sprintf("%s: Deployment %s", o.file, o.Metadata.Name)
		for k, v := range spec.Selector.MatchLabels {
			if spec.Template.Metadata.Labels[k] != v {
				t.Errorf("%s: selector %s=%s does not match the pod template's labels", where, k, v)
			}
		}
		g := &group{where: where, volumes: map[string]*volume{}}
		if a := spec.Template.Metadata.Annotations; a["prometheus.io/scrape"] == "true" {
			if g.scrapePort, _ = strconv.Atoi(a["prometheus.io/port"]); g.scrapePort == 0 {
				t.Errorf("%s: prometheus.io/scrape without a prometheus.io/port", where)
			}
		}
		for _, v := range spec.Template.Spec.Volumes {
			vol := &volume{name: v.Name}
			switch {
			case v.Secret != nil:
				vol.kind = "secret"
				if !secrets[v.Secret.SecretName] {
					t.Errorf("%s: volume %s: no Certificate here issues Secret %s", where, v.Name, v.Secret.SecretName)
				}
				vol.keys = certManagerKeys
				if len(v.Secret.Items) > 0 {
					vol.keys = map[string]string{}
					for _, it := range v.Secret.Items {
						if _, ok := certManagerKeys[it.Key]; !ok {
							t.Errorf("%s: volume %s: cert-manager writes no %q into the Secret", where, v.Name, it.Key)
						}
						vol.keys[it.Path] = ""
					}
				}
			case v.ConfigMap != nil:
				vol.kind = "configMap"
				cm := configMaps[v.ConfigMap.Name]
				if cm == nil {
					t.Errorf("%s: volume %s: no ConfigMap %s here", where, v.Name, v.ConfigMap.Name)
					continue
				}
				vol.keys = cm.Data
			case v.EmptyDir != nil:
				vol.kind = "emptyDir"
			default:
				t.Errorf("%s: volume %s: a kind the test does not know", where, v.Name)
			}
			g.volumes[v.Name] = vol
		}
		kinds := map[string][]k8sContainer{"init container": spec.Template.Spec.InitContainers, "container": spec.Template.Spec.Containers}
		for _, kind := range []string{"init container", "container"} {
			for _, kc := range kinds[kind] {
				g.containers = append(g.containers, podContainer(t, g, fmt.Sprintf("%s, %s %s", where, kind, kc.Name), kc, images))
			}
		}
		groups = append(groups, g)
	}
	return groups
}

// podContainer applies Kubernetes' rules for command and args over the
// image's ENTRYPOINT and CMD.
func podContainer(t testing.TB, g *group, where string, kc k8sContainer, images map[string]*image) *container {
	c := &container{where: where, env: map[string]string{}, ports: []int{}}
	img, known := imageFor(images, kc.Image)
	if !known {
		t.Errorf("%s: image %s is neither built by the Dockerfile nor listed in foreignImages", where, kc.Image)
	}
	c.image = img
	var entrypoint, cmd []string
	if img != nil {
		entrypoint, cmd = img.entrypoint, img.cmd
		for k, v := range img.env {
			c.env[k] = v
		}
	}
	if kc.Command != nil {
		entrypoint, cmd = kc.Command, nil // command replaces ENTRYPOINT and drops CMD
	}
	if kc.Args != nil {
		cmd = kc.Args
	}
	c.argv = append(append(c.argv, entrypoint...), cmd...)
	for _, e := range kc.Env {
		c.env[e.Name] = e.Value
	}
	for _, vm := range kc.VolumeMounts {
		v := g.volumes[vm.Name]
		if v == nil {
			t.Errorf("%s: volumeMount %s names no volume of the pod", where, vm.Name)
			continue
		}
		c.mounts = append(c.mounts, mount{target: vm.MountPath, volume: v, readOnly: vm.ReadOnly})
	}
	for _, p := range kc.Ports {
		c.ports = append(c.ports, p.ContainerPort)
	}
	for _, p := range []*k8sProbe{kc.ReadinessProbe, kc.LivenessProbe, kc.StartupProbe} {
		switch {
		case p == nil:
		case p.Exec != nil:
			c.probes = append(c.probes, p.Exec.Command)
		case p.HTTPGet != nil:
			port, err := strconv.Atoi(p.HTTPGet.Port)
			for _, cp := range kc.Ports {
				if err != nil && cp.Name == p.HTTPGet.Port {
					port, err = cp.ContainerPort, nil
				}
			}
			if err != nil {
				t.Errorf("%s: probe GETs %s on port %q, which is no number and no container port's name", where, p.HTTPGet.Path, p.HTTPGet.Port)
				continue
			}
			c.httpProbes = append(c.httpProbes, httpProbe{path: p.HTTPGet.Path, port: port})
		}
	}
	return c
}

// TestKubernetes loads the Kubernetes example's manifests and checks each
// container of the pod (see checkContainer), plus what ties the manifests
// together: the Secret comes from the Certificate, the ConfigMap exists,
// every volume is mounted, the init container's trust store is on a volume
// the broker mounts, one namespace.
func TestKubernetes(t *testing.T) {
	files, _ := filepath.Glob("kubernetes/*.yaml")
	if len(files) == 0 {
		t.Fatal("no manifests under examples/kubernetes")
	}
	var objs []*k8sObject
	for _, f := range files {
		objs = append(objs, decodeObjects(t, f, testutil.ReadFile(t, f))...)
	}
	groups := loadPods(t, objs, loadImages(t))
	if len(groups) == 0 {
		t.Fatal("no Deployment in examples/kubernetes")
	}
	for _, g := range groups {
		checkGroup(t, g)
	}
}
