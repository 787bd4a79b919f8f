-- Code lenses in headless Neovim 0.7+, as the README's setup does it: vim.lsp.codelens.refresh
-- on a test file, vim.lsp.codelens.run on a test's line, then the lenses again.
-- Input from the environment: TOXBRIDGE_NVIM_ROOT, TOXBRIDGE_NVIM_ENDPOINT,
-- TOXBRIDGE_NVIM_PYTHON, TOXBRIDGE_NVIM_FILE (the test file), TOXBRIDGE_NVIM_LINE (the
-- 1-based line whose lens to run), TOXBRIDGE_NVIM_OUT (the JSON file this script writes).
local root = os.getenv("TOXBRIDGE_NVIM_ROOT")
local out = os.getenv("TOXBRIDGE_NVIM_OUT")
local seen = { results = {}, err = nil }

local client_id = vim.lsp.start_client({
  name = "toxbridge",
  cmd = { os.getenv("TOXBRIDGE_NVIM_PYTHON"), "-m", "toxbridge", "lsp" },
  root_dir = root,
  workspace_folders = { { uri = vim.uri_from_fname(root), name = "project" } },
  init_options = { endpoint = os.getenv("TOXBRIDGE_NVIM_ENDPOINT"), testEnvs = { "toggle" } },
  handlers = {
    ["tox/testResults"] = function(_, result)
      for _, entry in ipairs(result.results) do
        table.insert(seen.results, { runId = result.runId, id = entry.id, state = entry.state })
      end
    end,
  },
})

local function lenses(bufnr)
  local found = {}
  for _, lens in ipairs(vim.lsp.codelens.get(bufnr)) do
    table.insert(found, { line = lens.range.start.line, title = lens.command and lens.command.title })
  end
  return found
end

local function finish(status)
  local stored = {}
  for _, d in ipairs(vim.diagnostic.get()) do
    table.insert(stored, { file = vim.api.nvim_buf_get_name(d.bufnr), lnum = d.lnum, message = d.message })
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

if not vim.wait(20000, function()
  local client = vim.lsp.get_client_by_id(client_id)
  return client ~= nil and client.initialized
end, 20) then
  seen.err = "the bridge did not initialize"
  finish(2)
end

vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("TOXBRIDGE_NVIM_FILE")))
local bufnr = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(bufnr, client_id)
vim.lsp.codelens.refresh()
if not vim.wait(20000, function()
  return #vim.lsp.codelens.get(bufnr) > 0
end, 20) then
  seen.err = "no code lenses"
  finish(3)
end
seen.before = lenses(bufnr)

-- the lens on the test's line runs it; its callback refreshes the lenses
vim.api.nvim_win_set_cursor(0, { tonumber(os.getenv("TOXBRIDGE_NVIM_LINE")), 0 })
vim.lsp.codelens.run()
local function failed_lens()
  for _, lens in ipairs(lenses(bufnr)) do
    if lens.title and lens.title:find("failed") then
      return true
    end
  end
  return false
end
if not vim.wait(60000, failed_lens, 20) then
  seen.err = "no lens showed the result"
  seen.after = lenses(bufnr)
  finish(4)
end
seen.after = lenses(bufnr)
finish(0)
