using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using PuppeteerSharp;
using Xunit.Abstractions;

namespace Chain.Explorer.Tests;

/// <summary>The system's Chromium (Debian's <c>chromium</c> package), or <c>$CHROMIUM_PATH</c>; nothing is downloaded.</summary>
internal static class SystemChromium
{
    public static string? Path { get; } = new[] { Environment.GetEnvironmentVariable("CHROMIUM_PATH"), "/usr/bin/chromium", "/usr/bin/chromium-browser" }
        .FirstOrDefault(p => !string.IsNullOrEmpty(p) && File.Exists(p));
}

/// <summary>A fact that is skipped, saying why, where no Chromium executable exists (CI images may lack it).</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (SystemChromium.Path is null)
            Skip = "no Chromium executable found (/usr/bin/chromium or $CHROMIUM_PATH; apt-get install chromium): browser tests skipped";
    }
}

/// <summary>
/// The explorer in headless Chromium against the real RPC server: pages render, live blocks arrive over SSE, "verify"
/// passes on honest answers and fails when one answer has a flipped byte (Puppeteer request interception is the tamperer).
/// Screenshots go to screenshots/ under the test output.
/// </summary>
public sealed partial class BrowserTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ITestOutputHelper _output = output;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private ExplorerTestHost _host = null!;
    private IBrowser? _browser;

    public async Task InitializeAsync()
    {
        _host = await ExplorerTestHost.StartAsync();
        if (SystemChromium.Path is { } path)
            _browser = await Puppeteer.LaunchAsync(new LaunchOptions
            {
                Headless = true, ExecutablePath = path, Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        await _host.DisposeAsync();
    }

    private static string Screenshot(string name)
    {
        var dir = System.IO.Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(dir);
        return System.IO.Path.Combine(dir, name + ".png");
    }

    private async Task<IPage> OpenAsync(string path)
    {
        var page = await _browser!.NewPageAsync();
        page.DefaultTimeout = (int)Wait.TotalMilliseconds;
        var response = await page.GoToAsync(new Uri(_host.Server.BaseAddress, path).ToString());
        Assert.Equal(HttpStatusCode.OK, response.Status);
        return page;
    }

    private static async Task<(string State, string[] Passed, string[] Failed)> VerifyAsync(IPage page, string screenshot)
    {
        await page.WaitForSelectorAsync("#verify-button:not([disabled])");
        await page.ClickAsync("#verify-button");
        await page.WaitForSelectorAsync("#verify[data-state='passed'], #verify[data-state='failed']");
        await page.ScreenshotAsync(Screenshot(screenshot), new ScreenshotOptions { FullPage = true });
        var state = await page.EvaluateExpressionAsync<string>("document.getElementById('verify').dataset.state");
        var passed = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#checks li.pass')].map(li => li.dataset.check)");
        var failed = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#checks li.fail, #checks li.skip')].map(li => li.textContent)");
        return (state, passed, failed);
    }

    [ChromiumFact]
    public async Task Home_page_renders_and_receives_live_blocks()
    {
        var page = await OpenAsync("/explorer");
        Assert.Equal(3, await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#blocks tbody tr').length"));
        await page.WaitForSelectorAsync("body[data-live='connected']");
        var block = _host.Node.ProduceBlock();
        await page.WaitForSelectorAsync($"#blocks tbody tr[data-live] a[href='/explorer/blocks/{block.Height.Value}']");
        await page.ScreenshotAsync(Screenshot("home-live"), new ScreenshotOptions { FullPage = true });
    }

    [ChromiumFact]
    public async Task Inference_transaction_verifies_in_the_browser()
    {
        var page = await OpenAsync($"/explorer/txs/{_host.Inference.Hash}");
        var (state, passed, failed) = await VerifyAsync(page, "tx-honest");
        Assert.True(state == "passed", "checks that did not pass: " + string.Join(" | ", failed));
        Assert.Contains("commit signatures verify (Ed25519, WebCrypto)", passed);
        Assert.Contains("signers hold more than 2/3 of the trusted power", passed);
        Assert.Contains("receipt proof against the header's receipts root", passed);
        Assert.Contains("inference output bytes hash to the receipt's outputHash", passed);
    }

    [ChromiumFact]
    public async Task A_flipped_byte_in_the_commit_fails_the_signature_check()
    {
        var page = await OpenAsync("/explorer/blocks/1");
        Assert.Equal("passed", (await VerifyAsync(page, "block-honest")).State); // pins the honest genesis set first
        await TamperAsync(page, "/commits/1", "raw", bytes => bytes[^1] ^= 0x01); // the last signature's last byte
        var (state, _, failed) = await VerifyAsync(page, "block-tampered-commit");
        Assert.Equal("failed", state);
        Assert.Contains(failed, f => f.Contains("commit signatures verify", StringComparison.Ordinal) && f.Contains("does not verify", StringComparison.Ordinal));
    }

    [ChromiumFact]
    public async Task A_flipped_byte_in_the_receipt_fails_its_proof()
    {
        var page = await OpenAsync($"/explorer/txs/{_host.Inference.Hash}");
        Assert.Equal("passed", (await VerifyAsync(page, "tx-honest-before-tamper")).State);
        await TamperAsync(page, $"/txs/{_host.Inference.Hash}", "rawReceipt", bytes => bytes[^1] ^= 0x01); // an output byte
        var (state, _, failed) = await VerifyAsync(page, "tx-tampered-receipt");
        Assert.Equal("failed", state);
        Assert.Contains(failed, f => f.Contains("receipt proof against the header's receipts root", StringComparison.Ordinal));
        Assert.Contains(failed, f => f.Contains("outputHash", StringComparison.Ordinal));
    }

    [ChromiumFact]
    public async Task Model_bytes_verify_against_the_state_root_and_a_flipped_byte_fails()
    {
        var path = $"/explorer/models/{ExplorerTestHost.Mlp.ModelId}";
        var page = await OpenAsync(path);
        var (state, passed, failed) = await VerifyAsync(page, "model-honest");
        Assert.True(state == "passed", "checks that did not pass: " + string.Join(" | ", failed));
        Assert.Contains("state proof of the model bytes against the verified header's state root", passed);
        await TamperAsync(page, $"/models/{ExplorerTestHost.Mlp.ModelId}/code", "proof.value", bytes => bytes[bytes.Length / 2] ^= 0x80);
        (state, _, failed) = await VerifyAsync(page, "model-tampered-bytes");
        Assert.Equal("failed", state);
        Assert.Contains(failed, f => f.Contains("model bytes hash to the model id", StringComparison.Ordinal));
        Assert.Contains(failed, f => f.Contains("state proof of the model bytes", StringComparison.Ordinal));
    }

    // From now on the page's fetches of `path` get the node's real answer with one byte of the base64 field `field`
    // (a dotted path into the JSON) flipped.
    private async Task TamperAsync(IPage page, string path, string field, Action<byte[]> flip)
    {
        await page.SetRequestInterceptionAsync(true);
        page.Request += async (_, e) =>
        {
            if (new Uri(e.Request.Url).AbsolutePath != path)
            {
                await e.Request.ContinueAsync();
                return;
            }
            var json = JsonNode.Parse(await _host.Http.GetStringAsync(path))!;
            var parent = field.Split('.')[..^1].Aggregate(json, (node, name) => node[name]!);
            var name = field.Split('.')[^1];
            var bytes = Convert.FromBase64String(parent[name]!.GetValue<string>());
            flip(bytes);
            parent[name] = Convert.ToBase64String(bytes);
            await e.Request.RespondAsync(new ResponseData
            {
                Status = HttpStatusCode.OK, ContentType = "application/json; charset=utf-8", Body = json.ToJsonString(new JsonSerializerOptions()),
            });
        };
    }
}
