using System.Xml.Linq;
using Chain.Inference.Runtime;

namespace Chain.Explorer.Tests;

/// <summary>The plain pages: complete HTML the node renders, readable without JavaScript, behind a strict CSP.</summary>
public sealed class ServerRenderedPageTests : IAsyncLifetime
{
    private ExplorerTestHost _host = null!;

    public async Task InitializeAsync() => _host = await ExplorerTestHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private async Task<string> PageAsync(string path, int status = 200)
    {
        var (code, type, csp, body) = await _host.GetAsync(path);
        Assert.Equal(status, code);
        Assert.StartsWith("text/html", type);
        Assert.Equal(ExplorerRoutes.ContentSecurityPolicy, csp);
        Assert.StartsWith("<!DOCTYPE html><html lang=\"en\">", body);
        Assert.EndsWith("</html>", body);
        Assert.DoesNotContain("<script>", body); // no inline script: the CSP would refuse it
        Assert.Contains("<h1>", body);
        // Well-formed enough for an XML parser once the doctype is dropped: every element closed, every text escaped.
        XDocument.Parse(body["<!DOCTYPE html>".Length..].Replace("&nbsp;", " "));
        return body;
    }

    [Fact]
    public async Task Home_lists_committed_blocks_newest_first()
    {
        var body = await PageAsync("/explorer");
        Assert.Contains("<table id=\"blocks\"><caption>", body);
        int h3 = body.IndexOf("href=\"/explorer/blocks/3\"", StringComparison.Ordinal), h1 = body.IndexOf("href=\"/explorer/blocks/1\"", StringComparison.Ordinal);
        Assert.True(h3 > 0 && h1 > h3, "height 3 is listed before height 1");
        Assert.Contains("/explorer/static/live.js", body);
    }

    [Fact]
    public async Task Block_page_shows_header_commit_signers_with_power_and_transactions()
    {
        var block = _host.Node.Blocks.LoadBlock(new Core.Height(1))!;
        var body = await PageAsync("/explorer/blocks/1");
        Assert.Contains(block.Hash.ToString(), body);
        Assert.Contains(block.Header.StateRoot.ToString(), body);
        Assert.Contains("<table id=\"signers\">", body);
        Assert.Contains("<th scope=\"col\">Power</th>", body);
        var commit = _host.Node.Blocks.LoadBlock(new Core.Height(2))!.LastCommit!;
        foreach (var s in commit.Signatures) Assert.Contains(s.Validator.ToString(), body);
        Assert.Contains($"/explorer/txs/{_host.Inference.Hash}", body);
        Assert.Contains($"/explorer/txs/{_host.Transfer.Hash}", body);
        Assert.Contains("No evidence.", body);
        Assert.Contains("id=\"verify\" aria-labelledby=\"verify-heading\" data-height=\"1\"", body);
    }

    [Fact]
    public async Task Inference_page_decodes_the_output_and_draws_the_input()
    {
        var digit = ExplorerTestHost.Mlp.Digits[0];
        var body = await PageAsync($"/explorer/txs/{_host.Inference.Hash}");
        Assert.Contains("<table id=\"top-k\">", body);
        Assert.Contains("<svg class=\"input-image\" role=\"img\"", body);
        // The top class is the model's prediction for the digit (what the genesis fixture recorded).
        var top = body[body.IndexOf("<table id=\"top-k\">", StringComparison.Ordinal)..];
        var firstRow = top[top.IndexOf("<tbody><tr><td>1</td><td>", StringComparison.Ordinal)..];
        Assert.StartsWith($"<tbody><tr><td>1</td><td>{digit.Class}</td>", firstRow);
        Assert.Contains("Success", body);
        // An inference offers re-execution (its script fills in and runs it); a transfer does not.
        Assert.Contains($"<section id=\"reexec\" aria-labelledby=\"reexec-heading\" data-height=\"1\" data-tx=\"{_host.Inference.Hash}\">", body);
        Assert.Contains("<button type=\"button\" id=\"reexec-button\" disabled=\"disabled\">Re-execute in this browser</button>", body);
        Assert.Contains("/explorer/static/reexec.js", body);
        var transfer = await PageAsync($"/explorer/txs/{_host.Transfer.Hash}");
        Assert.DoesNotContain("reexec", transfer);
    }

    [Fact]
    public async Task Transfer_account_model_and_validator_pages_render()
    {
        Assert.Contains(ExplorerTestHost.Bob.Address.ToString(), await PageAsync($"/explorer/txs/{_host.Transfer.Hash}"));
        var account = await PageAsync($"/explorer/accounts/{ExplorerTestHost.Alice.Address}");
        Assert.Contains(_host.Node.Executor.GetAccount(ExplorerTestHost.Alice.Address).Balance.ToString(System.Globalization.CultureInfo.InvariantCulture), account);
        var model = await PageAsync($"/explorer/models/{ExplorerTestHost.Mlp.ModelId}");
        var info = Core.Codec.Canonical.Decode<Execution.ModelInfo>(_host.Node.State.Get(Core.State.StateKeys.Model(ExplorerTestHost.Mlp.ModelId))!);
        Assert.Contains($"<h1>Model {info.Name}</h1>", model);
        Assert.Contains(info.Macs.ToString(System.Globalization.CultureInfo.InvariantCulture), model);
        Assert.Contains("Multiply-accumulates", model);
        var validators = await PageAsync("/explorer/validators");
        foreach (var v in ExplorerTestHost.Genesis.Validators.Validators) Assert.Contains(v.Address.ToString(), validators);
    }

    [Theory]
    [InlineData("/explorer/blocks/0", 400)]
    [InlineData("/explorer/blocks/01", 400)]
    [InlineData("/explorer/blocks/99", 404)]
    [InlineData("/explorer/txs/XYZ", 400)]
    [InlineData("/explorer/txs/0000000000000000000000000000000000000000000000000000000000000000", 404)]
    [InlineData("/explorer/models/0000000000000000000000000000000000000000000000000000000000000000", 404)]
    [InlineData("/explorer/accounts/ABC", 400)]
    public async Task Bad_or_unknown_ids_get_a_one_line_html_error(string path, int status)
    {
        var body = await PageAsync(path, status);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(body, "<p class=\"error\">"));
    }

    [Fact]
    public async Task Search_redirects_to_the_page_of_what_it_recognises()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _host.Server.BaseAddress };
        async Task<string?> Target(string q) => (await http.GetAsync($"/explorer/search?q={q}")).Headers.Location?.ToString();
        Assert.Equal("/explorer/blocks/2", await Target("2"));
        Assert.Equal($"/explorer/txs/{_host.Transfer.Hash}", await Target(_host.Transfer.Hash.ToString()));
        Assert.Equal($"/explorer/models/{ExplorerTestHost.Mlp.ModelId}", await Target(ExplorerTestHost.Mlp.ModelId.ToString()));
        Assert.Equal($"/explorer/accounts/{ExplorerTestHost.Bob.Address}", await Target(ExplorerTestHost.Bob.Address.ToString()));
        await PageAsync("/explorer/search?q=nothing", 400);
    }

    [Fact]
    public async Task Static_files_are_served_from_the_assembly_and_unknown_ones_are_404()
    {
        foreach (var name in new[] { "explorer.css", "live.js", "msgpack.js", "proofs.js", "verify.js", "reexec.js", "onnx.js", "infer.js" })
        {
            var (status, type, csp, body) = await _host.GetAsync($"/explorer/static/{name}");
            Assert.Equal(200, status);
            Assert.Contains(name.EndsWith(".js", StringComparison.Ordinal) ? "text/javascript" : "text/css", type);
            Assert.NotEmpty(body);
            Assert.Equal(ExplorerRoutes.ContentSecurityPolicy, csp);
        }
        Assert.Equal(404, (await _host.GetAsync("/explorer/static/nope.js")).Status);
    }

    [Fact]
    public async Task The_rpc_json_endpoints_are_unchanged_beside_the_explorer()
    {
        var (status, type, _, _) = await _host.GetAsync("/headers/1");
        Assert.Equal(200, status);
        Assert.StartsWith("application/json", type);
        Assert.Equal(404, (await _host.GetAsync("/explorer/nothing-here")).Status);
    }
}
