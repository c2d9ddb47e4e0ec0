package deploy_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/deploy"
)

// kinds are the Kubernetes types the manifests may hold, each decoded strictly (an unknown or misspelt
// field fails).
var kinds = map[string]func() any{
	"Namespace":               func() any { return new(corev1.Namespace) },
	"ConfigMap":               func() any { return new(corev1.ConfigMap) },
	"Secret":                  func() any { return new(corev1.Secret) },
	"Service":                 func() any { return new(corev1.Service) },
	"Deployment":              func() any { return new(appsv1.Deployment) },
	"HorizontalPodAutoscaler": func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
	"PodDisruptionBudget":     func() any { return new(policyv1.PodDisruptionBudget) },
	"NetworkPolicy":           func() any { return new(networkingv1.NetworkPolicy) },
}

// decodeAll decodes every document of a multi-document YAML stream strictly into its Kubernetes type.
func decodeAll(t *testing.T, name string, data []byte) map[string]any {
	t.Helper()
	out := map[string]any{}
	for i, doc := range bytes.Split(data, []byte("\n---\n")) {
		var meta struct {
			Kind     string
			Metadata struct{ Name string }
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil || meta.Kind == "" {
			t.Errorf("%s document %d: no kind (%v)", name, i, err)
			continue
		}
		newObj, ok := kinds[meta.Kind]
		if !ok {
			t.Errorf("%s document %d: kind %s is not one the platform deploys", name, i, meta.Kind)
			continue
		}
		obj := newObj()
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Errorf("%s document %d (%s %s): %v", name, i, meta.Kind, meta.Metadata.Name, err)
		}
		out[meta.Kind+"/"+meta.Metadata.Name] = obj
	}
	return out
}

func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	files, _ := filepath.Glob("k8s/*/*.yaml")
	more, _ := filepath.Glob("k8s/overlays/*/*.yaml")
	for _, f := range append(files, more...) {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		decodeAll(t, f, data)
	}
}

// Both the base and the production overlay build with kustomize, and what they build is what a cluster
// needs: probes, resources, an autoscaler, disruption budgets, network policies, the ConfigMap's overrides.
func TestKustomizeBuilds(t *testing.T) {
	for _, dir := range []string{"k8s/base", "k8s/overlays/production"} {
		res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
		if err != nil {
			t.Fatalf("kustomize build %s: %v", dir, err)
		}
		data, err := res.AsYaml()
		if err != nil {
			t.Fatal(err)
		}
		objs := decodeAll(t, dir, data)
		for _, name := range []string{"Deployment/osservatorio-worker", "Deployment/osservatorio-api", "HorizontalPodAutoscaler/osservatorio-worker",
			"PodDisruptionBudget/osservatorio-worker", "PodDisruptionBudget/osservatorio-api", "NetworkPolicy/osservatorio-worker",
			"Service/osservatorio-api", "ConfigMap/osservatorio", "Secret/osservatorio"} {
			if objs[name] == nil {
				t.Errorf("%s: no %s", dir, name)
			}
		}
		for _, name := range []string{"Deployment/osservatorio-worker", "Deployment/osservatorio-api"} {
			d, _ := objs[name].(*appsv1.Deployment)
			if d == nil {
				continue
			}
			c := d.Spec.Template.Spec.Containers[0]
			if c.ReadinessProbe == nil || c.LivenessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.Resources.Requests.Memory().IsZero() {
				t.Errorf("%s %s: probes on /healthz or /readyz and resource requests are required", dir, name)
			}
			if d.Namespace != "osservatorio" || !strings.HasPrefix(c.Image, "ghcr.io/osservatorio-lombardia/osservatorio:") {
				t.Errorf("%s %s: namespace %q, image %q", dir, name, d.Namespace, c.Image)
			}
		}
		// The ConfigMap's variables are ones the platform reads: applied over the embedded default, the
		// configuration is valid and points where they say.
		cm := objs["ConfigMap/osservatorio"].(*corev1.ConfigMap)
		cfg, err := config.Parse(deploy.DefaultConfigName, deploy.DefaultConfig, func(k string) string { return cm.Data[k] })
		if err != nil {
			t.Errorf("%s: the embedded configuration with the ConfigMap: %v", dir, err)
			continue
		}
		if cfg.Temporal.Address != cm.Data["OSSERVATORIO_TEMPORAL_ADDRESS"] || cfg.Storage.Endpoint != cm.Data["OSSERVATORIO_STORAGE_ENDPOINT"] || cfg.API.Address != "0.0.0.0:8080" {
			t.Errorf("%s: configuration %+v %+v %+v ignores the ConfigMap", dir, cfg.Temporal, cfg.Storage, cfg.API)
		}
	}
}

func TestComposeParses(t *testing.T) {
	opts, err := cli.NewProjectOptions([]string{"compose/compose.yaml"}, cli.WithWorkingDirectory("compose"),
		cli.WithEnvFiles("compose/.env.example"), cli.WithDotEnv, cli.WithName("osservatorio"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, s := range []string{"postgresql", "temporal", "temporal-ui", "minio1", "minio2", "minio3", "minio4", "worker", "api", "prometheus", "grafana"} {
		if _, ok := p.Services[s]; !ok {
			t.Errorf("compose.yaml has no service %s", s)
		}
	}
	w := p.Services["worker"]
	if w.Deploy == nil || w.Deploy.Replicas == nil || *w.Deploy.Replicas < 2 {
		t.Errorf("worker: %+v; want at least 2 replicas", w.Deploy)
	}
	if got := w.Environment["OSSERVATORIO_STORAGE_SECRET_KEY"]; got == nil || *got == "" {
		t.Error("the worker gets no storage secret from .env")
	}
	if !strings.Contains(strings.Join(p.Services["minio1"].Command, " "), "http://minio{1...4}/data") {
		t.Errorf("minio: %v; want a 4-node deployment", p.Services["minio1"].Command)
	}
	env := map[string]string{}
	for k, v := range w.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	if _, err := config.Parse(deploy.DefaultConfigName, deploy.DefaultConfig, func(k string) string { return env[k] }); err != nil {
		t.Errorf("the worker's environment over the embedded configuration: %v", err)
	}
	var prom struct {
		ScrapeConfigs []struct {
			JobName string `json:"job_name"`
		} `json:"scrape_configs"`
	}
	data, _ := os.ReadFile("compose/prometheus.yml")
	if err := yaml.Unmarshal(data, &prom); err != nil || len(prom.ScrapeConfigs) != 2 {
		t.Errorf("prometheus.yml: %v %+v", err, prom)
	}
}
