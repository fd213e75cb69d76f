using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using TokenGateway.Metering;
using TokenGateway.Tokenizers;

namespace TokenGateway.Tests.Metering;

/// <summary>
/// The hold's input part (<see cref="InputTokenBound"/>): never below what tiktoken counts for text, whatever the
/// shape of the request, and media bounded by their own figures rather than by their payload's size.
/// </summary>
public sealed class InputTokenBoundTests
{
    private static readonly string CorpusDirectory = Path.Combine(AppContext.BaseDirectory, "Corpus");

    // NOTE: relaxed escaping keeps non-ASCII text as raw UTF-8, the tightest case (an escape only adds bytes).
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static TheoryData<string, string> CorpusFiles()
    {
        var data = new TheoryData<string, string>();
        foreach (var model in new[] { "gpt-4o", "gpt-4" })   // o200k_base and cl100k_base
        {
            foreach (var file in Directory.EnumerateFiles(CorpusDirectory, "*.txt").Select(Path.GetFileName).Order(StringComparer.Ordinal))
                data.Add(model, file!);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Count_OverTheTokenizerCorpus_IsNeverBelowTheLocalCount(string model, string file)
    {
        var text = File.ReadAllText(Path.Combine(CorpusDirectory, file));
        var tokenizer = TiktokenTokenizer.CreateForModel(model);
        var lines = text.Split('\n').Where(l => l.Length > 0).ToArray();
        Assert.NotEmpty(lines);
        // The premise: a token covers at least one UTF-8 byte, for the whole text and for each short piece of it.
        Assert.True(tokenizer.CountTokens(text) <= Encoding.UTF8.GetByteCount(text), file);
        Assert.All(lines, l => Assert.True(tokenizer.CountTokens(l) <= Encoding.UTF8.GetByteCount(l), l));

        JsonObject Chat(JsonArray messages) => new() { ["model"] = model, ["messages"] = messages };
        var bodies = new (MeteredEndpoint Endpoint, JsonObject Body)[]
        {
            (MeteredEndpoint.ChatCompletions, Chat([new JsonObject { ["role"] = "user", ["content"] = text }])),
            // One message per line, every other one named: the most per-message and per-name overhead per byte.
            (MeteredEndpoint.ChatCompletions, Chat([.. lines.Select((l, i) => (JsonNode)(i % 2 == 0
                ? new JsonObject { ["role"] = "user", ["name"] = "u" + i, ["content"] = l }
                : new JsonObject { ["role"] = "assistant", ["content"] = l }))])),
            (MeteredEndpoint.ChatCompletions, Chat([new JsonObject
            {
                ["role"] = "user",
                ["content"] = new JsonArray([.. lines.Select(l => (JsonNode)new JsonObject { ["type"] = "text", ["text"] = l })]),
            }])),
            // Tools: descriptions and schema property names are text too.
            (MeteredEndpoint.ChatCompletions, new JsonObject
            {
                ["model"] = model,
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = lines[0] }),
                ["tools"] = new JsonArray([.. lines.Take(20).Select((l, i) => (JsonNode)new JsonObject
                {
                    ["type"] = "function",
                    ["function"] = new JsonObject
                    {
                        ["name"] = "f" + i,
                        ["description"] = l,
                        ["parameters"] = new JsonObject
                        {
                            ["type"] = "object",
                            ["properties"] = new JsonObject { [l.Length > 40 ? l[..40] : l] = new JsonObject { ["type"] = "string", ["description"] = l } },
                        },
                    },
                })]),
            }),
            (MeteredEndpoint.Responses, new JsonObject { ["model"] = model, ["instructions"] = lines[0], ["input"] = text }),
            (MeteredEndpoint.Completions, new JsonObject { ["model"] = model, ["prompt"] = text }),
            (MeteredEndpoint.Embeddings, new JsonObject { ["model"] = model, ["input"] = new JsonArray([.. lines.Select(l => (JsonNode)l)]) }),
            (MeteredEndpoint.Embeddings, new JsonObject { ["model"] = model, ["input"] = new JsonArray([.. tokenizer.EncodeToIds(text).Select(id => (JsonNode)id)]) }),
        };
        foreach (var (endpoint, json) in bodies)
        {
            foreach (var options in new[] { Relaxed, JsonSerializerOptions.Default })
            {
                var body = Encoding.UTF8.GetBytes(json.ToJsonString(options));
                var request = RequestInspector.Inspect(endpoint, body).Request!;
                var counted = InputTokenCounter.Count(request, body);
                var bound = InputTokenBound.Count(request.Model, body);
                Assert.True(bound >= counted, $"{endpoint} {file}: bound {bound} < local count {counted}");
            }
        }
    }

    [Fact]
    public void Count_ShortChat_IsItsTextBytesPlusTheOverheads()
    {
        var body = """{"model":"gpt-4o","messages":[{"role":"user","content":"Hello"}]}"""u8;
        // 32 per request + 8 for the counted field "messages" + 8 for the message object
        // + "role" 4 + "user" 4 + "content" 7 + "Hello" 5; "model" is a control, not counted.
        Assert.Equal(32 + 8 + 8 + 4 + 4 + 7 + 5, InputTokenBound.Count("gpt-4o", body));
    }

    [Fact]
    public void Count_ControlFields_AreNotCounted_UnknownFieldsAre()
    {
        const string chat = """{"model":"gpt-4o","messages":[{"role":"user","content":"Hello"}]""";
        var plain = InputTokenBound.Count("gpt-4o", Encoding.UTF8.GetBytes(chat + "}"));
        var controls = chat + ""","temperature":0.2,"metadata":{"team":"a long value that the model never sees"},"user":"u-123","stop":["\n"],"logit_bias":{"50256":-100}}""";
        Assert.Equal(plain, InputTokenBound.Count("gpt-4o", Encoding.UTF8.GetBytes(controls)));
        // A field the gateway does not know may reach the model: 8 for the field + "a new prompt field" 18.
        Assert.Equal(plain + 8 + 18, InputTokenBound.Count("gpt-4o", Encoding.UTF8.GetBytes(chat + ""","new_field":"a new prompt field"}""")));
    }

    private static string ImageChat(string model, string detail, int payloadChars) =>
        $$$"""{"model":"{{{model}}}","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{new string('A', payloadChars)}}}","detail":"{{{detail}}}"}}]}]}""";

    [Fact]
    public void Count_ChatImage_IsTheFamilysFigureByDetail_NotItsPayloadSize()
    {
        // 32 + 8 "messages" + 8 message + "role" 4 + "user" 4 + "content" 7 + 8 part + "type" 4 + "image_url" 9
        // + "image_url" 9 + 8 image_url object + "url" 3 (its payload left out) + "detail" 6: 110, then the detail's
        // bytes and the image: low 3 + 85; high 4 + 1,536 (gpt-4o, a tile family); gpt-4o-mini high 4 + 2,833 + 8 × 5,667.
        Assert.Equal(110 + 3 + 85, InputTokenBound.Count("gpt-4o", Encoding.UTF8.GetBytes(ImageChat("gpt-4o", "low", 100_000))));
        Assert.Equal(110 + 3 + 85, InputTokenBound.Count("gpt-4o", Encoding.UTF8.GetBytes(ImageChat("gpt-4o", "low", 10))));
        Assert.Equal(110 + 4 + 1536, InputTokenBound.Count("gpt-4o", Encoding.UTF8.GetBytes(ImageChat("gpt-4o", "high", 100_000))));
        Assert.Equal(110 + 4 + 48_169, InputTokenBound.Count("gpt-4o-mini", Encoding.UTF8.GetBytes(ImageChat("gpt-4o-mini", "auto", 100_000))));
        // Patch-based models ignore the detail: 1,536 patches × 2.46 (nano).
        Assert.Equal(110 + 3 + 3779, InputTokenBound.Count("gpt-4.1-nano", Encoding.UTF8.GetBytes(ImageChat("gpt-4.1-nano", "low", 100))));
    }

    [Fact]
    public void Count_ResponsesImages_CountEveryImage_AndADoubleDetailIsHigh()
    {
        var body = """
            {"model":"gpt-4o","input":[{"role":"user","content":[
              {"type":"input_image","image_url":"https://example.com/a.png","detail":"low"},
              {"type":"input_image","file_id":"file-1","detail":"low","detail":"high"}]}]}
            """u8;
        // 32 + 8 "input" + 8 message + "role" 4 + "user" 4 + "content" 7
        // + first part: 8 + "type" 4 + "input_image" 11 + "image_url" 9 (URL left out) + "detail" 6 + "low" 3 + 85
        // + second part: 8 + "type" 4 + "input_image" 11 + "file_id" 7 + "file-1" 6 + "detail" 6 + "low" 3 + "detail" 6 + "high" 4 + 1,536.
        Assert.Equal(32 + 8 + 8 + 4 + 4 + 7 + (8 + 4 + 11 + 9 + 6 + 3 + 85) + (8 + 4 + 11 + 7 + 6 + 6 + 3 + 6 + 4 + 1536),
            InputTokenBound.Count("gpt-4o", body));
    }

    [Fact]
    public void Count_AudioClip_IsBoundedByItsData()
    {
        var body = Encoding.UTF8.GetBytes($$$"""{"model":"gpt-4o-audio-preview","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"{{{new string('A', 6400)}}}","format":"mp3"}}]}]}""");
        // 32 + 8 + 8 message + "role" 4 + "user" 4 + "content" 7 + 8 part + "type" 4 + "input_audio" 11 + "input_audio" 11
        // + 8 object + "data" 4 + "format" 6 + "mp3" 3 = 118, and the clip: 6,400 base64 characters / 64 + 32 = 132.
        Assert.Equal(118 + 132, InputTokenBound.Count("gpt-4o-audio-preview", body));
    }

    [Fact]
    public void Count_File_Is100PagesOfImageAndText_WhateverItsSize()
    {
        var chat = Encoding.UTF8.GetBytes($$$"""{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,{{{new string('A', 50_000)}}}","filename":"a.pdf"}}]}]}""");
        // 32 + 8 + 8 + "role" 4 + "user" 4 + "content" 7 + 8 part + "type" 4 + "file" 4 + "file" 4 + 8 object
        // + "file_data" 9 + "filename" 8 + "a.pdf" 5 = 113, and the file: 100 pages × (1,536 + 2,048) = 358,400.
        Assert.Equal(113 + 358_400, InputTokenBound.Count("gpt-4o", chat));
        var responses = """{"model":"gpt-4o","input":[{"role":"user","content":[{"type":"input_file","file_id":"file-abc"}]}]}"""u8;
        // 32 + 8 + 8 + "role" 4 + "user" 4 + "content" 7 + 8 part + "type" 4 + "input_file" 10 + "file_id" 7 + "file-abc" 8 = 100.
        Assert.Equal(100 + 358_400, InputTokenBound.Count("gpt-4o", responses));
    }

    [Fact]
    public void Count_MediaPayloadOutsideAMediaPart_IsCountedAsText()
    {
        // No media type: the "payload" may be read as text, so its bytes count (a wrong guess only makes the hold larger).
        var payload = new string('x', 5000);
        var notAnImage = Encoding.UTF8.GetBytes($$$"""{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"hi","image_url":{"url":"{{{payload}}}"}}]}]}""");
        Assert.True(InputTokenBound.Count("gpt-4o", notAnImage) > 5000);
        // An escaped type is not recognised: the payload counts as text, never less.
        var escaped = Encoding.UTF8.GetBytes($$$"""{"model":"gpt-4o","input":[{"role":"user","content":[{"type":"input\u005fimage","image_url":"{{{payload}}}"}]}]}""");
        Assert.True(InputTokenBound.Count("gpt-4o", escaped) > 5000);
    }
}
