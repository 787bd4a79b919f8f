-- Drive `toxbridge lsp` from headless Neovim 0.7+ the way a user's config would:
-- vim.lsp.start_client, a toxbridge.run through workspace/executeCommand, and the
-- default handlers (wrapped to record) for $/progress and publishDiagnostics.
-- Input from the environment: TOXBRIDGE_NVIM_ROOT, TOXBRIDGE_NVIM_ENDPOINT,
-- TOXBRIDGE_NVIM_PYTHON, TOXBRIDGE_NVIM_OUT (the JSON file this script writes).
local root = os.getenv("TOXBRIDGE_NVIM_ROOT")
local out = os.getenv("TOXBRIDGE_NVIM_OUT")
local seen = { progress = {}, published = {}, result = nil, err = nil }

local function record(method, keep)
  local default = vim.lsp.handlers[method]
  return function(err, result, ctx, config)
    keep(result)
    if default then
      return default(err, result, ctx, config)
    end
  end
end

local client_id = vim.lsp.start_client({
  name = "toxbridge",
  cmd = { os.getenv("TOXBRIDGE_NVIM_PYTHON"), "-m", "toxbridge", "lsp" },
  root_dir = root,
  workspace_folders = { { uri = vim.uri_from_fname(root), name = "project" } },
  init_options = { endpoint = os.getenv("TOXBRIDGE_NVIM_ENDPOINT") },
  handlers = {
    ["$/progress"] = record("$/progress", function(result)
      table.insert(seen.progress, result.value.kind)
    end),
    ["textDocument/publishDiagnostics"] = record("textDocument/publishDiagnostics", function(result)
      table.insert(seen.published, { uri = result.uri, count = #result.diagnostics })
    end),
  },
})

local function finish(status)
  local stored = {}
  for _, d in ipairs(vim.diagnostic.get()) do
    table.insert(stored, {
      file = vim.api.nvim_buf_get_name(d.bufnr),
      lnum = d.lnum,
      source = d.source,
      message = d.message,
    })
  end
  seen.diagnostics = stored
  local file = io.open(out, "w")
  file:write(vim.fn.json_encode(seen))
  file:close()
  vim.lsp.stop_client(client_id)
  vim.wait(2000, function()
    return vim.lsp.get_client_by_id(client_id) == nil
  end, 20)
  if status == 0 then
    vim.cmd("qall!")
  else
    vim.cmd("cquit " .. status)
  end
end

local initialized = vim.wait(20000, function()
  local client = vim.lsp.get_client_by_id(client_id)
  return client ~= nil and client.initialized
end, 20)
if not initialized then
  seen.err = "the bridge did not initialize"
  finish(2)
end

local client = vim.lsp.get_client_by_id(client_id)
local done = false
client.request("workspace/executeCommand", {
  command = "toxbridge.run",
  arguments = { "-e", "early" },
}, function(err, result)
  seen.err = err and err.message or nil
  seen.result = result
  done = true
end)
vim.wait(60000, function()
  return done
end, 20)
finish(done and seen.err == nil and 0 or 3)
