using System.Text.Json;
using System.Text.Json.Serialization;

namespace Chain.Rpc;

/// <summary>The JSON settings server and client share: camelCase names, nulls left out.</summary>
public static class RpcJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
