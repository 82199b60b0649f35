// Command dashpreview renders the CloudWatch dashboard of a synthesized
// CloudFormation template to an HTML page and a PNG screenshot, so that a
// reviewer can see the dashboard without an AWS account.
//
//	go run ./internal/tools/dashpreview -template cdk.out/StreamProc-dev.template.json -out cdk.out/dashboard.png
//
// It reads the AWS::CloudWatch::Dashboard's DashboardBody from the template
// (not a hand-kept copy), shows Ref/GetAtt tokens as the names of the
// resources they point at, lays the widgets out on CloudWatch's 24-column
// grid and draws sample data (clearly labelled) with the real titles,
// metrics, statistics, periods and threshold lines. The screenshot is taken
// with a headless Chromium from PATH or -chromium (`make dashboard` passes
// $CHROME).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/streamproc/streamproc/internal/tools/dashpreview/cwdash"
)

func main() {
	template := flag.String("template", "", "synthesized CloudFormation template (JSON)")
	out := flag.String("out", "dashboard.png", "PNG to write; the HTML page is written beside it with .html")
	name := flag.String("dashboard", "", "dashboard name or logical id when the template has several (default: all, one file each after the first)")
	width := flag.Int("width", defaultGeometry.Width, "page width in pixels")
	browser := flag.String("chromium", "", "Chromium binary (default: chromium, chromium-browser or google-chrome on PATH)")
	htmlOnly := flag.Bool("html-only", false, "write the HTML page only, no screenshot")
	flag.Parse()
	if *template == "" {
		fmt.Fprintln(os.Stderr, "usage: dashpreview -template cdk.out/<stack>.template.json [-out dashboard.png]")
		os.Exit(2)
	}
	if err := run(*template, *out, *name, *width, *browser, *htmlOnly); err != nil {
		fmt.Fprintln(os.Stderr, "dashpreview:", err)
		os.Exit(1)
	}
}

func run(templatePath, out, only string, width int, browser string, htmlOnly bool) error {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		return err
	}
	ds, err := cwdash.FromTemplate(data)
	if err != nil {
		return err
	}
	if only != "" {
		var keep []cwdash.Dashboard
		for _, d := range ds {
			if d.Name == only || d.LogicalID == only {
				keep = append(keep, d)
			}
		}
		ds = keep
	}
	if len(ds) == 0 {
		return fmt.Errorf("%s has no AWS::CloudWatch::Dashboard%s", templatePath, map[bool]string{true: " named " + only}[only != ""])
	}
	g := defaultGeometry
	g.Width = width
	for i, d := range ds {
		if errs := cwdash.CheckLayout(d.Body.Widgets); len(errs) > 0 {
			return fmt.Errorf("dashboard %s: %w", d.Name, errors.Join(errs...))
		}
		png := out
		if i > 0 {
			png = strings.TrimSuffix(out, ".png") + "-" + d.LogicalID + ".png"
		}
		page := strings.TrimSuffix(png, ".png") + ".html"
		doc, err := renderHTML(d, g, renderOptions{Source: templatePath, Now: time.Now().UTC().Truncate(time.Minute)})
		if err != nil {
			return fmt.Errorf("dashboard %s: %w", d.Name, err)
		}
		if err := os.WriteFile(page, []byte(doc), 0o644); err != nil {
			return err
		}
		fmt.Printf("dashboard %s: %d widgets, %d rows -> %s\n", d.Name, len(d.Body.Widgets), cwdash.Rows(d.Body.Widgets), page)
		if htmlOnly {
			continue
		}
		if err := screenshot(browser, page, png, g.Width, g.pageHeight(d.Body.Widgets)); err != nil {
			return err
		}
		fmt.Printf("dashboard %s -> %s\n", d.Name, png)
	}
	return nil
}

// screenshot renders the page with headless Chromium in a fresh profile, with
// networking and background services off (the page needs none).
func screenshot(browser, page, png string, width, height int) error {
	bin, err := findChromium(browser)
	if err != nil {
		return err
	}
	absPage, err := filepath.Abs(page)
	if err != nil {
		return err
	}
	absPNG, err := filepath.Abs(png)
	if err != nil {
		return err
	}
	profile, err := os.MkdirTemp("", "dashpreview-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	_ = os.Remove(absPNG)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
		"--user-data-dir="+profile,
		"--screenshot="+absPNG,
		fmt.Sprintf("--window-size=%d,%d", width, height),
		"file://"+absPage,
	)
	outb, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", bin, err, outb)
	}
	if st, err := os.Stat(absPNG); err != nil || st.Size() == 0 {
		return fmt.Errorf("%s wrote no screenshot to %s:\n%s", bin, absPNG, outb)
	}
	return nil
}

func findChromium(explicit string) (string, error) {
	if explicit != "" {
		return exec.LookPath(explicit)
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium on PATH (chromium, chromium-browser, google-chrome): install one (Debian/Ubuntu: sudo apt-get install chromium), pass -chromium (make dashboard CHROME=/path/to/chrome), or use -html-only")
}
