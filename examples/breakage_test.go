package examples

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// recorder is a testing.TB whose Errorf collects messages instead of
// failing, so a test can assert that a check fires.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.msgs = append(r.msgs, fmt.Sprint(args...)) }

// breakage is one edit to an example that its checks must catch.
type breakage struct {
	file, old, new string
	want           string // a piece of the expected complaint
}

// TestChecksCatchBreakage edits the examples in memory, one mistake at a
// time (a renamed flag or variable, a volume or path that no longer lines
// up, a shell-form command) and requires the Compose and Kubernetes checks
// to report each: checks that pass on the real files must also be able to
// fail.
func TestChecksCatchBreakage(t *testing.T) {
	images := loadImages(t)
	tests := []breakage{
		{"docker-compose/compose.yaml", "CERTINIT_OWNER: mosquitto", "CERTINIT_OWNR: mosquitto", "CERTINIT_OWNR names no flag of certinit run"},
		{"docker-compose/compose.yaml", `"--min-validity"`, `"--min-valid"`, "has no flag --min-valid"},
		{"docker-compose/compose.yaml", "- certinit-state:/var/lib", "- certinit-stat:/var/lib", "volume certinit-stat is not declared"},
		{"docker-compose/compose.yaml", `"/mosquitto/certs/fullchain.pem", "--key"`, `"/mosquitto/certs/cert.pem", "--key"`, "health check looks at"},
		{"docker-compose/compose.yaml", `"8883:8883"`, `"8883:8884"`, "TLS listener on 8883"},
		{"docker-compose/compose.yaml", `test: ["CMD",`, `test: ["CMD-SHELL",`, "not a shell"},
		{"docker-compose/compose.yaml", `CERTINIT_ACME_TLS_ADDR: ""`, `CERTINIT_ACME_TLS_ADDR: ":443"`, "the CA validates on the host's port 443, which is not published"},
		{"docker-compose/compose.yaml", `"80:80"`, `"8080:80"`, "the CA validates on the host's port 80, which is not published"},
		{"certbot-volume/compose.yaml", "CERTINIT_COPY_TO: /mosquitto/certs", "CERTINIT_COPY_TO: /mosquitto/copies", "but certinit writes"},
		{"certbot-volume/compose.yaml", "CERTINIT_OWNER: mosquitto", "CERTINIT_OWNER: root", "drops to user mosquitto"},
		{"certbot-volume/compose.yaml", "-d mqtt.example.com", "-d mqtt.example.org", "does not ask certbot for mqtt.example.com"},
		{"certbot-volume/compose.yaml", `entrypoint: ["/bin/sh", "-c"]`, "entrypoint: /bin/sh -c", "not a list"},
		{"certbot-volume/compose.yaml", "- letsencrypt:/etc/letsencrypt\n", "- letsencrypt:/etc/letsencrypt:ro\n", "which no other container writes"},
		{"certbot-volume/compose.yaml", "wait $$!", "wait $!", "Compose interpolates"},
		{"certbot-volume/compose.yaml", "CERTINIT_CERT: /etc/letsencrypt/", "CERTINIT_CERT: /etc/certs/", "neither on a mounted volume nor in the image"},
		{"kubernetes/deployment.yaml", "{name: trust, mountPath: /etc/ssl/certs, readOnly: true}", "{name: config, mountPath: /etc/mosquitto}", "which no other container mounts"},
		{"kubernetes/deployment.yaml", "configMap: {name: mosquitto-config}", "configMap: {name: mosquitto-conf}", "no ConfigMap mosquitto-conf"},
		{"kubernetes/deployment.yaml", "{name: CERTINIT_TRUST, value: /ca/ca.crt}", "{name: CERTINIT_TRUST, value: /ca/tls.crt}", `holds no "tls.crt"`},
		{"kubernetes/deployment.yaml", `args: ["init"]`, `args: ["int"]`, "names no certinit command"},
		{"kubernetes/deployment.yaml", "httpGet: {path: /readyz, port: metrics}", "httpGet: {path: /ready, port: metrics}", "certinit answers /healthz and /readyz"},
		{"kubernetes/deployment.yaml", "{containerPort: 9464, name: metrics}", "{containerPort: 9465, name: metrics}", "but certinit's --metrics-addr is on port 9464"},
		{"kubernetes/deployment.yaml", "httpGet: {path: /healthz, port: metrics}", "httpGet: {path: /healthz, port: metric}", "no number and no container port's name"},
		{"kubernetes/deployment.yaml", `prometheus.io/port: "9464"`, `prometheus.io/port: "9090"`, "Prometheus is told to scrape port 9090"},
		{"kubernetes/deployment.yaml", `{name: CERTINIT_METRICS_ADDR, value: ":9464"}`, `{name: CERTINIT_METRICS_ADR, value: ":9464"}`, "CERTINIT_METRICS_ADR names no flag"},
		{"kubernetes/deployment.yaml", "{name: CERTINIT_OWNER, value: mosquitto}", "{name: CERTINIT_OWNERS, value: mosquitto}", "CERTINIT_OWNERS names no flag"},
		{"kubernetes/mosquitto-configmap.yaml", "certfile /mosquitto/certs/tls.crt", "certfile /mosquitto/certs/fullchain.pem", "but certinit writes"},
		{"kubernetes/mosquitto-configmap.yaml", "listener 8883", "listener 8884", "TLS listener on 8884"},
		{"kubernetes/certificate.yaml", "secretName: mqtt-broker-tls", "secretName: mqtt-tls", "no Certificate here issues Secret mqtt-broker-tls"},
		{"certbot-volume/README.md", "--wait 10m --copy-to", "--wait 10m --copy-into", "has no flag --copy-into"},
		{"mosquitto-tls/README.md", "-e CERTINIT_OWNER=mosquitto", "-e CERTINIT_OWNER=root", "drops to user mosquitto"},
		{"mosquitto-tls/README.md", "-e CERTINIT_ACME_CACHE=", "-e CERTINIT_ACME_CACHEDIR=", "CERTINIT_ACME_CACHEDIR is read by no certinit flag"},
		{"mosquitto-tls/README.md", `"$PWD/mosquitto.conf:`, `"$PWD/broker.conf:`, "no such file"},
		{"mosquitto-tls/README.md", "-e CERTINIT_ACME_TLS_ADDR= ", "", "the CA validates on the host's port 443, which is not published"},
		{"mbedtls/README.md", "--format c-der --name", "--format c-der --der --name", "has no flag --der"},
		{"bridge/README.md", "dir:/etc/mosquitto/ca /config/hub-root.pem", "dir:/etc/mosquitto/ca --rehash /config/hub-root.pem", "certinit trust install has no flag --rehash"},
		{"docker-compose/README.md", "`certinit check --min-validity 72h`", "`certinit check --min-valid 72h`", "has no flag --min-valid"},
		{"kubernetes/README.md", "(`certinit init`,", "(`certinit initialise`,", "names no certinit command"},
		{"mosquitto-tls/README.md", "-t mosquitto-certinit .`", "-t certinit .`", "imageStages maps certinit"},
		{"mosquitto-tls/README.md", "--target mosquitto -t", "--target broker -t", "no such Dockerfile stage"},
	}
	for _, tc := range tests {
		t.Run(tc.file+": "+tc.new, func(t *testing.T) {
			r := &recorder{TB: t}
			data := string(testutil.ReadFile(t, tc.file))
			if n := strings.Count(data, tc.old); n != 1 {
				t.Fatalf("%s holds %q %d times, want once: update this case", tc.file, tc.old, n)
			}
			edited := []byte(strings.Replace(data, tc.old, tc.new, 1))
			switch {
			case filepath.Base(tc.file) == "README.md":
				checkREADME(r, tc.file, string(edited), images)
			case filepath.Base(tc.file) == "compose.yaml":
				checkGroup(r, loadCompose(r, tc.file, edited, images))
			default:
				files, _ := filepath.Glob("kubernetes/*.yaml")
				var objs []*k8sObject
				for _, f := range files {
					d := testutil.ReadFile(t, f)
					if f == tc.file {
						d = edited
					}
					objs = append(objs, decodeObjects(r, f, d)...)
				}
				for _, g := range loadPods(r, objs, images) {
					checkGroup(r, g)
				}
			}
			for _, m := range r.msgs {
				if strings.Contains(m, tc.want) {
					return
				}
			}
			t.Errorf("no complaint containing %q; got:\n%s", tc.want, strings.Join(r.msgs, "\n"))
		})
	}
}
